/** What a secrets store setting gives up: ecs-secrets' own tables carry none of sidekey's bindings. */
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

export function checkSecretsStore(loaded: LoadedConfig): Finding[] {
  if (loaded.config.secrets?.store.type !== 'ecs-secrets') return [];
  return [
    finding(
      'secrets-legacy-format',
      'secrets.store.type',
      "ecs-secrets' tables bind nothing to a version: no encryption context or AAD, so a row moved to another name or serial still decrypts; and ecs-secrets writers on the same tables allocate serials by read-then-write with no condition, so one can overwrite a version sidekey wrote",
      'keep it only while both tools share the tables; then move the secrets into a sidekey store (type sqlite or dynamodb) and stop the ecs-secrets writers',
    ),
  ];
}

/**
 * What the ecs-secrets compatibility settings give up: its tables carry none of sidekey's
 * bindings, and its API takes no token unless `require_token` is set.
 */
import { formatListenAddress } from '../config/listen-address.js';
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

export function checkSecretsStore(loaded: LoadedConfig): Finding[] {
  const secrets = loaded.config.secrets;
  const findings: Finding[] = [];
  const compat = secrets?.ecs_secrets_api;
  if (compat && !compat.require_token) {
    findings.push(
      finding(
        'secrets-tokenless-api',
        'secrets.ecs_secrets_api',
        `${formatListenAddress(compat.listen)} answers as token "${compat.token_id}" to any process that reaches it, as ecs-secrets did: every container sharing this network namespace (or, for a unix socket, every user who may open it) gets what that token may`,
        "give it a token limited to the names those clients need (role reader unless they create secrets), keep the listener in the task's own namespace, and move clients to the token-checked API",
      ),
    );
  }
  if (secrets?.store.type !== 'ecs-secrets') return findings;
  return [
    ...findings,
    finding(
      'secrets-legacy-format',
      'secrets.store.type',
      "ecs-secrets' tables bind nothing to a version: no encryption context or AAD, so a row moved to another name or serial still decrypts; and ecs-secrets writers on the same tables allocate serials by read-then-write with no condition, so one can overwrite a version sidekey wrote",
      'keep it only while both tools share the tables; then move the secrets into a sidekey store (type sqlite or dynamodb) and stop the ecs-secrets writers',
    ),
  ];
}

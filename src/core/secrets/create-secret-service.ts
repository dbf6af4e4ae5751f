/** Builds the store, keyring and service a `secrets` config section describes. */
import { baseCredentialProvider, pickRegion } from '../aws/base-credentials.js';
import type { SecretsConfig } from '../config/sections/secrets-section.js';
import type { SidekeyConfig } from '../config/sidekey-config.js';
import type { Logger } from '../log/logger.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { DynamoDbStore } from './dynamodb-store.js';
import { EcsSecretsCodec } from './ecs-secrets-codec.js';
import type { Keyring } from './keyring.js';
import { KmsKeyring } from './kms-keyring.js';
import { LocalKeyring } from './local-keyring.js';
import { SecretService } from './secret-service.js';
import type { SecretStore } from './secret-store.js';
import { SqliteStore } from './sqlite-store.js';
import { timedKeyring } from './timed-keyring.js';
import { timedStore } from './timed-store.js';
import { envelopeCodec, type VersionCodec } from './version-codec.js';

export interface SecretServiceParts {
  readonly secrets: SecretsConfig;
  readonly awsDefaults?: SidekeyConfig['aws_defaults'];
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
  /** Overrides cache_ttl_seconds (the CLI's direct mode caches nothing). */
  readonly cacheTtlSeconds?: number;
}

/** Every application the config acts in: `application` and the tokens' (ecs-secrets has a table for each). */
export function applicationsOf(secrets: SecretsConfig): string[] {
  return [...new Set([secrets.application, ...secrets.tokens.map((t) => t.application)])];
}

export function createStore(secrets: SecretsConfig, awsDefaults?: SidekeyConfig['aws_defaults']): SecretStore {
  const store = secrets.store;
  if (store.type === 'sqlite') return new SqliteStore(store.path);
  const region = pickRegion(store.region, awsDefaults?.region);
  const common = { credentials: baseCredentialProvider(awsDefaults), ...(region ? { region } : {}) };
  if (store.type === 'ecs-secrets') return new DynamoDbStore({ layout: 'ecs-secrets', applications: applicationsOf(secrets), ...common });
  return new DynamoDbStore({ table: store.table, ...common });
}

/** ecs-secrets' format for its tables; sidekey's envelope under the keyring otherwise. */
export function createCodec(secrets: SecretsConfig, keyring: Keyring, awsDefaults?: SidekeyConfig['aws_defaults']): VersionCodec {
  const store = secrets.store;
  if (store.type !== 'ecs-secrets') return envelopeCodec(keyring);
  const region = pickRegion(store.region, awsDefaults?.region);
  return new EcsSecretsCodec({ credentials: baseCredentialProvider(awsDefaults), ...(region ? { region } : {}) });
}

export function createKeyring(secrets: SecretsConfig, awsDefaults?: SidekeyConfig['aws_defaults']): Keyring {
  const keyring = secrets.keyring;
  if (keyring.type === 'local') {
    return keyring.keys !== undefined
      ? new LocalKeyring({ keys: keyring.keys })
      : new LocalKeyring({ keyFile: keyring.key_file as string });
  }
  const region = pickRegion(keyring.region, awsDefaults?.region);
  return new KmsKeyring({
    keyId: keyring.key_id,
    previousKeyIds: keyring.previous_key_ids,
    credentials: baseCredentialProvider(awsDefaults),
    ...(region ? { region } : {}),
  });
}

export function createSecretService(parts: SecretServiceParts): SecretService {
  const rawKeyring = createKeyring(parts.secrets, parts.awsDefaults);
  const keyring = parts.metrics ? timedKeyring(rawKeyring, parts.metrics) : rawKeyring;
  const store = createStore(parts.secrets, parts.awsDefaults);
  return new SecretService({
    store: parts.metrics ? timedStore(store, parts.metrics) : store,
    keyring,
    codec: createCodec(parts.secrets, keyring, parts.awsDefaults),
    cacheTtlSeconds: parts.cacheTtlSeconds ?? parts.secrets.cache_ttl_seconds,
    ...(parts.logger ? { logger: parts.logger } : {}),
    ...(parts.metrics ? { metrics: parts.metrics } : {}),
  });
}

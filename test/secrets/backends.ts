/**
 * The real backends the secrets tests run against: the KMS test peer and dynalite (an in-process
 * DynamoDB), reached through the AWS SDK's standard endpoint variables, exactly as a deployment
 * reaches LocalStack or a VPC endpoint.
 */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { DynamoDbStore } from '../../src/core/secrets/dynamodb-store.js';
import type { Keyring } from '../../src/core/secrets/keyring.js';
import { KmsKeyring } from '../../src/core/secrets/kms-keyring.js';
import { LocalKeyring } from '../../src/core/secrets/local-keyring.js';
import type { SecretStore } from '../../src/core/secrets/secret-store.js';
import { SqliteStore } from '../../src/core/secrets/sqlite-store.js';
import { type KmsPeer, startKmsPeer } from '../peers/kms-peer.js';

export const REGION = 'us-east-1';
export const KMS_ALIAS = 'alias/sidekey-test';
/** dynalite does not check signatures, but the SDK must sign with something. */
export const DYNAMO_CREDENTIALS = { accessKeyId: 'AKIDDYNALITE0000001', secretAccessKey: 'dynalite-does-not-check' };

export interface Backends {
  readonly kms: KmsPeer;
  readonly kmsKeyArn: string;
  readonly dynamoUrl: string;
  /** Environment for child processes (the CLI) that must reach the same backends. */
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function startBackends(): Promise<Backends> {
  const kms = await startKmsPeer({ region: REGION });
  const kmsKeyArn = kms.createKey(KMS_ALIAS);
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  const dynamoUrl = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
  const env = { AWS_ENDPOINT_URL_KMS: kms.url, AWS_ENDPOINT_URL_DYNAMODB: dynamoUrl, AWS_REGION: REGION };
  Object.assign(process.env, env);
  return {
    kms,
    kmsKeyArn,
    dynamoUrl,
    env,
    close: async () => {
      await kms.close();
      await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    },
  };
}

export type StoreKind = 'sqlite' | 'dynamodb';
export type KeyringKind = 'local' | 'kms';

export function makeStore(kind: StoreKind, where: string): SecretStore {
  return kind === 'sqlite'
    ? new SqliteStore(`${where}/secrets.db`)
    : new DynamoDbStore({
        table: where.replace(/[^A-Za-z0-9_.-]/g, '-').slice(-200),
        region: REGION,
        credentials: async () => DYNAMO_CREDENTIALS,
      });
}

export function makeKeyring(kind: KeyringKind, backends: Backends, dir: string): Keyring {
  return kind === 'local'
    ? new LocalKeyring({ keyFile: `${dir}/keys/master.key` })
    : new KmsKeyring({ keyId: KMS_ALIAS, region: REGION, credentials: async () => backends.kms.credentials });
}

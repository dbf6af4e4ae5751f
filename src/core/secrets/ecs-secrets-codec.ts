/**
 * ecs-secrets' own format, so sidekey reads what that tool wrote and writes what it can read: a
 * KMS data key per version (`GenerateDataKey`, AES_256, on the application's alias
 * `alias/ECSSecretsMaskerKey-<app>`, no encryption context), the payload sealed with AES-256-GCM
 * under a random 12-byte nonce and no AAD, stored as `nonce | ciphertext | tag`. What it gives up
 * against sidekey's envelope (docs/secrets.md, `sidekey check`): nothing binds a row to its name or
 * serial, so rows can be swapped. Decrypt names the application's alias, so a data key made under
 * any other KMS key is refused.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { SidekeyError } from '../errors.js';
import { KMS_MAX_ATTEMPTS } from './kms-keyring.js';
import { DATA_KEY_BYTES } from './payload-envelope.js';
import type { Sealed } from './secret-crypto.js';
import { integrity } from './secret-errors.js';
import type { VersionRow } from './secret-store.js';
import type { VersionCodec } from './version-codec.js';

/** ecs-secrets' alias per application: `alias/ECSSecretsMaskerKey-<app>`. */
export const ECS_SECRETS_KEY_ALIAS_PREFIX = 'alias/ECSSecretsMaskerKey-';
/** Go's crypto/cipher GCM defaults, as ecs-secrets uses them. */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface EcsSecretsCodecOptions {
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentityProvider;
  /** Defaults to ECS_SECRETS_KEY_ALIAS_PREFIX. */
  readonly aliasPrefix?: string;
}

export class EcsSecretsCodec implements VersionCodec {
  readonly #client: KMSClient;
  readonly #aliasPrefix: string;

  constructor(options: EcsSecretsCodecOptions = {}) {
    this.#aliasPrefix = options.aliasPrefix ?? ECS_SECRETS_KEY_ALIAS_PREFIX;
    this.#client = new KMSClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: KMS_MAX_ATTEMPTS,
    });
  }

  alias(app: string): string {
    return `${this.#aliasPrefix}${app}`;
  }

  #fail(operation: string, app: string, error: unknown): SidekeyError {
    const name = error instanceof KMSServiceException ? error.name : (error as Error).name;
    return new SidekeyError('KEYRING_FAILED', `KMS ${operation} with ${this.alias(app)} failed (${name})`, { cause: error });
  }

  async seal(app: string, _name: string, _serial: number, payload: Buffer): Promise<Sealed> {
    let out: { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array };
    try {
      out = await this.#client.send(new GenerateDataKeyCommand({ KeyId: this.alias(app), KeySpec: 'AES_256' }));
    } catch (error) {
      throw this.#fail('GenerateDataKey', app, error);
    }
    if (!out.Plaintext || out.Plaintext.length !== DATA_KEY_BYTES || !out.CiphertextBlob) {
      throw new SidekeyError('KEYRING_FAILED', `KMS GenerateDataKey with ${this.alias(app)} returned no ${DATA_KEY_BYTES}-byte key`);
    }
    const key = Buffer.from(out.Plaintext);
    try {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      const data = Buffer.concat([nonce, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
      return { data, dataKey: Buffer.from(out.CiphertextBlob) };
    } finally {
      key.fill(0);
    }
  }

  async open(row: VersionRow): Promise<string> {
    const { app, name, serial } = row;
    if (!row.data || !row.dataKey) throw integrity(app, name, serial, 'an active version has no ciphertext');
    if (row.data.length < NONCE_BYTES + TAG_BYTES) throw integrity(app, name, serial, 'the ciphertext is too short');
    let key: Buffer;
    try {
      // KeyId pins the application's key: KMS refuses a data key made under another (IncorrectKeyException).
      const out = await this.#client.send(new DecryptCommand({ CiphertextBlob: row.dataKey, KeyId: this.alias(app) }));
      if (!out.Plaintext || out.Plaintext.length !== DATA_KEY_BYTES)
        throw new SidekeyError('KEYRING_FAILED', 'KMS Decrypt returned no data key');
      key = Buffer.from(out.Plaintext);
    } catch (error) {
      if (error instanceof SidekeyError) throw error;
      if (error instanceof KMSServiceException && (error.name === 'InvalidCiphertextException' || error.name === 'IncorrectKeyException'))
        throw integrity(app, name, serial, `KMS refused the data key (${error.name}): not made under ${this.alias(app)}`, error);
      throw this.#fail('Decrypt', app, error);
    }
    try {
      const nonce = row.data.subarray(0, NONCE_BYTES);
      const tag = row.data.subarray(row.data.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(row.data.subarray(NONCE_BYTES, row.data.length - TAG_BYTES)), decipher.final()]);
      return utf8.decode(plain);
    } catch (error) {
      throw integrity(app, name, serial, error instanceof TypeError ? 'the payload is not UTF-8' : 'the GCM tag does not verify', error);
    } finally {
      key.fill(0);
    }
  }

  async setup(): Promise<void> {}

  describe(): string {
    return `AWS KMS ${this.#aliasPrefix}<application> (ecs-secrets' format: no encryption context)`;
  }

  close(): void {
    this.#client.destroy();
  }
}

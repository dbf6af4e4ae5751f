/**
 * The AWS KMS keyring: `GenerateDataKey` (AES_256) per version and `Decrypt`, both with the
 * version's encryption context, so a KMS key policy can also require it
 * (`kms:EncryptionContext:app`). The endpoint follows the SDK's standard resolution
 * (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`, profile `endpoint_url`).
 */
import {
  DecryptCommand,
  type DecryptCommandOutput,
  DescribeKeyCommand,
  EncryptCommand,
  GenerateDataKeyCommand,
  type GenerateDataKeyCommandOutput,
  KMSClient,
  KMSServiceException,
} from '@aws-sdk/client-kms';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { SidekeyError } from '../errors.js';
import type { EncryptionContext } from './encryption-context.js';
import type { WrappedKey } from './key-envelope.js';
import type { DataKey, Keyring } from './keyring.js';
import { DATA_KEY_BYTES } from './payload-envelope.js';

/** SDK attempts per KMS call (the SDK backs off between them, with jitter, on throttling). */
export const KMS_MAX_ATTEMPTS = 5;
/** KMS errors that mean "this ciphertext or context is wrong", not "KMS is unavailable". */
const INTEGRITY_ERRORS = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

export interface KmsKeyringOptions {
  /** Key id, key ARN, alias/NAME or alias ARN. */
  readonly keyId: string;
  /** Keys data keys may still be wrapped under (before a move to keyId and a rewrap); the same forms. */
  readonly previousKeyIds?: readonly string[];
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentityProvider;
}

export class KmsKeyring implements Keyring {
  readonly provider = 'kms' as const;
  readonly #client: KMSClient;
  readonly #keyId: string;
  /** The keys unwrap may decrypt with: the configured one first, then earlier ones. */
  readonly #decryptKeys: readonly string[];
  /** The ARN the configured key id resolves to now (an alias may have moved), learned by prepareRewrap. */
  #currentArn: string | undefined;

  constructor(options: KmsKeyringOptions) {
    this.#keyId = options.keyId;
    this.#decryptKeys = [options.keyId, ...(options.previousKeyIds ?? []).filter((id) => id !== options.keyId)];
    this.#client = new KMSClient({
      ...(options.region ? { region: options.region } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: KMS_MAX_ATTEMPTS,
    });
  }

  describe(): string {
    return `AWS KMS key ${this.#keyId}`;
  }

  async setup(): Promise<void> {}

  #fail(operation: string, error: unknown): SidekeyError {
    const name = error instanceof KMSServiceException ? error.name : undefined;
    if (name && INTEGRITY_ERRORS.has(name)) {
      return new SidekeyError(
        'SECRET_INTEGRITY',
        `KMS ${operation} refused the data key (${name}): it was altered or its encryption context differs`,
        {
          cause: error,
        },
      );
    }
    return new SidekeyError('KEYRING_FAILED', `KMS ${operation} with ${this.#keyId} failed (${name ?? (error as Error).name})`, {
      cause: error,
    });
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    let out: GenerateDataKeyCommandOutput;
    try {
      out = await this.#client.send(
        new GenerateDataKeyCommand({ KeyId: this.#keyId, KeySpec: 'AES_256', EncryptionContext: { ...context } }),
      );
    } catch (error) {
      throw this.#fail('GenerateDataKey', error);
    }
    if (!out.Plaintext || out.Plaintext.length !== DATA_KEY_BYTES || !out.CiphertextBlob || !out.KeyId) {
      throw new SidekeyError('KEYRING_FAILED', `KMS GenerateDataKey with ${this.#keyId} returned no ${DATA_KEY_BYTES}-byte key`);
    }
    return {
      plaintext: Buffer.from(out.Plaintext),
      wrapped: { provider: 'kms', keyId: out.KeyId, wrapped: Buffer.from(out.CiphertextBlob) },
    };
  }

  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Buffer> {
    if (wrapped.provider !== 'kms') {
      throw new SidekeyError(
        'KEYRING_FAILED',
        `this data key is wrapped by the ${wrapped.provider} keyring, but the configured keyring is kms`,
      );
    }
    // The envelope's key id is only a hint: whoever can write the table writes it too. Decrypt
    // names a configured key every time, so KMS refuses a blob made under any other key
    // (IncorrectKeyException), however permissive kms:Decrypt is on that other key.
    const hinted = this.#decryptKeys.filter((id) => id === wrapped.keyId);
    let out: DecryptCommandOutput | undefined;
    for (const keyId of [...hinted, ...this.#decryptKeys.filter((id) => id !== wrapped.keyId)]) {
      try {
        out = await this.#client.send(
          new DecryptCommand({ CiphertextBlob: wrapped.wrapped, KeyId: keyId, EncryptionContext: { ...context } }),
        );
        break;
      } catch (error) {
        if (error instanceof KMSServiceException && error.name === 'IncorrectKeyException') continue;
        throw this.#fail('Decrypt', error);
      }
    }
    if (!out) {
      throw new SidekeyError(
        'SECRET_INTEGRITY',
        `this data key was not made under the configured KMS key (secrets.keyring.key_id ${this.#keyId}${this.#decryptKeys.length > 1 ? ' or previous_key_ids' : ''}); the envelope names ${wrapped.keyId.slice(0, 2048)}: refused`,
      );
    }
    if (!out.Plaintext || out.Plaintext.length !== DATA_KEY_BYTES)
      throw new SidekeyError('KEYRING_FAILED', 'KMS Decrypt returned no data key');
    return Buffer.from(out.Plaintext);
  }

  async prepareRewrap(): Promise<void> {
    try {
      const out = await this.#client.send(new DescribeKeyCommand({ KeyId: this.#keyId }));
      this.#currentArn = out.KeyMetadata?.Arn;
    } catch (error) {
      throw this.#fail('DescribeKey', error);
    }
  }

  async rewrap(wrapped: WrappedKey, context: EncryptionContext): Promise<WrappedKey | undefined> {
    if (wrapped.provider === 'kms' && this.#currentArn !== undefined && wrapped.keyId === this.#currentArn) return undefined;
    const dataKey = await this.unwrap(wrapped, context);
    try {
      const out = await this.#client.send(
        new EncryptCommand({ KeyId: this.#keyId, Plaintext: dataKey, EncryptionContext: { ...context } }),
      );
      if (!out.CiphertextBlob || !out.KeyId) throw new SidekeyError('KEYRING_FAILED', 'KMS Encrypt returned no ciphertext');
      if (out.KeyId === wrapped.keyId) return undefined;
      return { provider: 'kms', keyId: out.KeyId, wrapped: Buffer.from(out.CiphertextBlob) };
    } catch (error) {
      throw error instanceof SidekeyError ? error : this.#fail('Encrypt', error);
    } finally {
      dataKey.fill(0);
    }
  }

  close(): void {
    this.#client.destroy();
  }
}

/**
 * The embedded keyring: data keys wrapped with AES-256-GCM under a master key from the key file,
 * with the version's encryption context as AAD (so a wrapped key moved to another row fails too).
 * Several master keys may be present; the newest wraps new keys, any of them unwraps.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SidekeyError } from '../errors.js';
import { canonicalContext, type EncryptionContext } from './encryption-context.js';
import type { WrappedKey } from './key-envelope.js';
import type { DataKey, Keyring } from './keyring.js';
import { loadMasterKeyFile, type MasterKey, parseMasterKeys } from './master-key-file.js';
import { DATA_KEY_BYTES, NONCE_BYTES, TAG_BYTES } from './payload-envelope.js';

const WRAP_AAD_PREFIX = Buffer.from('sidekey local wrap v1\0', 'ascii');

export interface LocalKeyringOptions {
  /** The key file (created on first use). */
  readonly keyFile?: string;
  /** Key material in the key file format instead (from `${fromFile:...}`); never created. */
  readonly keys?: string;
}

export class LocalKeyring implements Keyring {
  readonly provider = 'local' as const;
  readonly #options: LocalKeyringOptions;
  #keys: MasterKey[] | undefined;

  constructor(options: LocalKeyringOptions) {
    if ((options.keyFile === undefined) === (options.keys === undefined)) throw new Error('LocalKeyring needs keyFile or keys');
    this.#options = options;
  }

  #load(): MasterKey[] {
    this.#keys ??=
      this.#options.keys !== undefined
        ? parseMasterKeys(this.#options.keys, 'secrets.keyring.keys')
        : loadMasterKeyFile(this.#options.keyFile as string);
    return this.#keys;
  }

  #newest(): MasterKey {
    const keys = this.#load();
    return keys[keys.length - 1] as MasterKey;
  }

  async setup(): Promise<void> {
    this.#load();
  }

  /** Forgets the loaded keys so the next use re-reads the file (after a key was added). */
  reload(): void {
    this.#keys = undefined;
  }

  async prepareRewrap(): Promise<void> {
    if (this.#options.keyFile !== undefined) this.reload();
  }

  describe(): string {
    return this.#options.keyFile ? `local master key file ${this.#options.keyFile}` : 'local master keys from the config';
  }

  #wrap(master: MasterKey, dataKey: Buffer, context: EncryptionContext): WrappedKey {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', master.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.concat([WRAP_AAD_PREFIX, Buffer.from(`${master.id}\0`), canonicalContext(context)]));
    const body = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return { provider: 'local', keyId: master.id, wrapped: Buffer.concat([nonce, body, cipher.getAuthTag()]) };
  }

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    const plaintext = randomBytes(DATA_KEY_BYTES);
    return { plaintext, wrapped: this.#wrap(this.#newest(), plaintext, context) };
  }

  async unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Buffer> {
    if (wrapped.provider !== 'local') {
      throw new SidekeyError('KEYRING_FAILED', `this data key is wrapped by ${wrapped.provider}, but the configured keyring is local`);
    }
    const master = this.#load().find((k) => k.id === wrapped.keyId);
    if (!master) throw new SidekeyError('KEYRING_FAILED', `master key ${wrapped.keyId} is not in ${this.describe()}`);
    const nonce = wrapped.wrapped.subarray(0, NONCE_BYTES);
    const tag = wrapped.wrapped.subarray(wrapped.wrapped.length - TAG_BYTES);
    const body = wrapped.wrapped.subarray(NONCE_BYTES, wrapped.wrapped.length - TAG_BYTES);
    if (body.length !== DATA_KEY_BYTES) throw new SidekeyError('SECRET_INTEGRITY', 'the wrapped data key has the wrong length');
    const decipher = createDecipheriv('aes-256-gcm', master.key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.concat([WRAP_AAD_PREFIX, Buffer.from(`${master.id}\0`), canonicalContext(context)]));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]);
    } catch (error) {
      throw new SidekeyError('SECRET_INTEGRITY', 'the wrapped data key does not authenticate under its master key and context', {
        cause: error,
      });
    }
  }

  async rewrap(wrapped: WrappedKey, context: EncryptionContext): Promise<WrappedKey | undefined> {
    const newest = this.#newest();
    if (wrapped.provider === 'local' && wrapped.keyId === newest.id) return undefined;
    const dataKey = await this.unwrap(wrapped, context);
    try {
      return this.#wrap(newest, dataKey, context);
    } finally {
      dataKey.fill(0);
    }
  }
}

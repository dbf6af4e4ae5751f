/**
 * A keyring makes and unwraps data keys. Two exist: `local` (master keys in a file) and `kms`
 * (AWS KMS). Both bind every wrapped key to the version's encryption context.
 */
import type { EncryptionContext } from './encryption-context.js';
import type { KeyProviderName, WrappedKey } from './key-envelope.js';

export interface DataKey {
  /** The 256-bit data key; callers zero it when done. */
  readonly plaintext: Buffer;
  readonly wrapped: WrappedKey;
}

export interface Keyring {
  readonly provider: KeyProviderName;
  /** A fresh data key, wrapped under the current (newest) master key. */
  generateDataKey(context: EncryptionContext): Promise<DataKey>;
  /** Unwraps a data key; throws KEYRING_FAILED or SECRET_INTEGRITY when it cannot. */
  unwrap(wrapped: WrappedKey, context: EncryptionContext): Promise<Buffer>;
  /**
   * Re-wraps a data key under the current master key, or returns undefined when it already is.
   * The payload ciphertext is untouched.
   */
  rewrap(wrapped: WrappedKey, context: EncryptionContext): Promise<WrappedKey | undefined>;
  /** Called once before a rewrap run: re-learn which master key is the newest. */
  prepareRewrap(): Promise<void>;
  /** Creates what the keyring needs (the local key file); a no-op for KMS. */
  setup(): Promise<void>;
  /** Human description for logs and `setup`: never key material. */
  describe(): string;
}

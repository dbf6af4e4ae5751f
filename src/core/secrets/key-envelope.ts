/**
 * The wrapped data key (the `EncryptedDataKey` attribute), format 1:
 *
 * ```
 * offset size  field
 * 0      4     magic "SKSK" (sidekey secret key)
 * 4      1     format version (1)
 * 5      1     key provider (1 = local master key, 2 = AWS KMS)
 * 6      2     key id length k (big-endian)
 * 8      k     key id (UTF-8: a local key id, or the KMS key ARN)
 * 8+k    n     wrapped data key (provider-specific; bound to the same encryption context)
 * ```
 */
import { SidekeyError } from '../errors.js';
import { EnvelopeError } from './payload-envelope.js';

export const KEY_MAGIC = Buffer.from('SKSK', 'ascii');
export const KEY_FORMAT_VERSION = 1;
export const KeyProvider = { local: 1, kms: 2 } as const;
export type KeyProviderName = keyof typeof KeyProvider;
/** The longest key id stored (a KMS key ARN is at most 2048 characters). */
export const MAX_KEY_ID_BYTES = 2048;

export interface WrappedKey {
  readonly provider: KeyProviderName;
  readonly keyId: string;
  readonly wrapped: Buffer;
}

export function encodeWrappedKey(key: WrappedKey): Buffer {
  const id = Buffer.from(key.keyId, 'utf8');
  if (id.length === 0 || id.length > MAX_KEY_ID_BYTES)
    throw new SidekeyError('KEYRING_FAILED', `a key id must be 1 to ${MAX_KEY_ID_BYTES} bytes`);
  const head = Buffer.alloc(KEY_MAGIC.length + 4);
  KEY_MAGIC.copy(head);
  head[KEY_MAGIC.length] = KEY_FORMAT_VERSION;
  head[KEY_MAGIC.length + 1] = KeyProvider[key.provider];
  head.writeUInt16BE(id.length, KEY_MAGIC.length + 2);
  return Buffer.concat([head, id, key.wrapped]);
}

export function decodeWrappedKey(bytes: Buffer): WrappedKey {
  const fixed = KEY_MAGIC.length + 4;
  if (bytes.length < fixed || !bytes.subarray(0, KEY_MAGIC.length).equals(KEY_MAGIC)) {
    throw new EnvelopeError('the wrapped data key has no sidekey header');
  }
  const version = bytes[KEY_MAGIC.length];
  if (version !== KEY_FORMAT_VERSION) throw new EnvelopeError(`unknown wrapped-key format version ${version}`);
  const providerId = bytes[KEY_MAGIC.length + 1];
  const provider = (Object.keys(KeyProvider) as KeyProviderName[]).find((p) => KeyProvider[p] === providerId);
  if (!provider) throw new EnvelopeError(`unknown key provider id ${providerId}`);
  const idLength = bytes.readUInt16BE(KEY_MAGIC.length + 2);
  if (bytes.length <= fixed + idLength) throw new EnvelopeError('the wrapped data key is truncated');
  return {
    provider,
    keyId: bytes.subarray(fixed, fixed + idLength).toString('utf8'),
    wrapped: Buffer.from(bytes.subarray(fixed + idLength)),
  };
}

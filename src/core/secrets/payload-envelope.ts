/**
 * The payload envelope (the `EncryptedData` attribute), format 1:
 *
 * ```
 * offset size  field
 * 0      4     magic "SKSP" (sidekey secret payload)
 * 4      1     format version (1)
 * 5      1     algorithm id (1 = AES-256-GCM, HKDF-SHA256 key derivation, key commitment)
 * 6      12    nonce
 * 18     32    key commitment
 * 50     n     ciphertext
 * 50+n   16    GCM tag
 * ```
 *
 * The data key (fresh per version) never encrypts directly: HKDF derives the GCM key and a
 * commitment from it, so one ciphertext cannot decrypt to two plaintexts under two keys. The AAD
 * is the header (magic, version, algorithm, nonce, commitment) followed by the canonical context.
 * The wrapped data key lives apart (key-envelope.ts) so a master-key rewrap never touches this.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalContext, type EncryptionContext } from './encryption-context.js';

export const PAYLOAD_MAGIC = Buffer.from('SKSP', 'ascii');
export const PAYLOAD_FORMAT_VERSION = 1;
/** Algorithm ids, as in the AWS Encryption SDK: stored so a future suite can coexist. */
export const Algorithm = { AES_256_GCM_HKDF_SHA256_COMMIT: 1 } as const;
/** Bytes of a data key: 256 bits. */
export const DATA_KEY_BYTES = 32;
/** Bytes of a GCM nonce: 96 bits, random per version (a data key encrypts exactly once). */
export const NONCE_BYTES = 12;
/** Bytes of the GCM tag: 128 bits. */
export const TAG_BYTES = 16;
/** Bytes of the key commitment. */
export const COMMITMENT_BYTES = 32;
const HEADER_BYTES = PAYLOAD_MAGIC.length + 2 + NONCE_BYTES + COMMITMENT_BYTES;

interface DerivedKeys {
  readonly encryptionKey: Buffer;
  readonly commitment: Buffer;
}

function derive(dataKey: Buffer, nonce: Buffer): DerivedKeys {
  const okm = Buffer.from(hkdfSync('sha256', dataKey, nonce, 'sidekey secrets payload v1', DATA_KEY_BYTES + COMMITMENT_BYTES));
  return { encryptionKey: okm.subarray(0, DATA_KEY_BYTES), commitment: okm.subarray(DATA_KEY_BYTES) };
}

/** Encrypts `plaintext` under `dataKey`, bound to `context`. */
export function sealPayload(plaintext: Buffer, dataKey: Buffer, context: EncryptionContext): Buffer {
  if (dataKey.length !== DATA_KEY_BYTES) throw new Error(`a data key must be ${DATA_KEY_BYTES} bytes`);
  const nonce = randomBytes(NONCE_BYTES);
  const { encryptionKey, commitment } = derive(dataKey, nonce);
  const header = Buffer.concat([
    PAYLOAD_MAGIC,
    Buffer.from([PAYLOAD_FORMAT_VERSION, Algorithm.AES_256_GCM_HKDF_SHA256_COMMIT]),
    nonce,
    commitment,
  ]);
  const cipher = createCipheriv('aes-256-gcm', encryptionKey, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** Why a payload envelope was refused; never includes key or plaintext material. */
export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
}

/** Decrypts an envelope made by sealPayload; throws EnvelopeError on any mismatch. */
export function openPayload(envelope: Buffer, dataKey: Buffer, context: EncryptionContext): Buffer {
  if (envelope.length < HEADER_BYTES + TAG_BYTES) throw new EnvelopeError('the payload envelope is truncated');
  if (!envelope.subarray(0, PAYLOAD_MAGIC.length).equals(PAYLOAD_MAGIC))
    throw new EnvelopeError('the payload envelope has no sidekey header');
  const version = envelope[PAYLOAD_MAGIC.length];
  const algorithm = envelope[PAYLOAD_MAGIC.length + 1];
  if (version !== PAYLOAD_FORMAT_VERSION) throw new EnvelopeError(`unknown payload format version ${version}`);
  if (algorithm !== Algorithm.AES_256_GCM_HKDF_SHA256_COMMIT) throw new EnvelopeError(`unknown algorithm id ${algorithm}`);
  let offset = PAYLOAD_MAGIC.length + 2;
  const nonce = envelope.subarray(offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  const storedCommitment = envelope.subarray(offset, offset + COMMITMENT_BYTES);
  const { encryptionKey, commitment } = derive(dataKey, nonce);
  if (!timingSafeEqual(storedCommitment, commitment)) throw new EnvelopeError('the key commitment does not match the data key');
  const header = envelope.subarray(0, HEADER_BYTES);
  const body = envelope.subarray(HEADER_BYTES, envelope.length - TAG_BYTES);
  const tag = envelope.subarray(envelope.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', encryptionKey, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.concat([header, canonicalContext(context)]));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (error) {
    throw new EnvelopeError('the GCM tag does not authenticate the ciphertext and its context', { cause: error });
  }
}

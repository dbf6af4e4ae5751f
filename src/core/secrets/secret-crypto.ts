/**
 * Sealing and opening one version: a fresh data key from the keyring, the payload envelope and
 * the wrapped-key envelope, both bound to the version's encryption context.
 */
import { isSidekeyError } from '../errors.js';
import { encryptionContext } from './encryption-context.js';
import { decodeWrappedKey, encodeWrappedKey } from './key-envelope.js';
import type { Keyring } from './keyring.js';
import { EnvelopeError, openPayload, sealPayload } from './payload-envelope.js';
import { integrity } from './secret-errors.js';
import type { VersionRow } from './secret-store.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface Sealed {
  readonly data: Buffer;
  readonly dataKey: Buffer;
}

export async function sealVersion(keyring: Keyring, app: string, name: string, serial: number, payload: Buffer): Promise<Sealed> {
  const context = encryptionContext(app, name, serial);
  const key = await keyring.generateDataKey(context);
  try {
    return { data: sealPayload(payload, key.plaintext, context), dataKey: encodeWrappedKey(key.wrapped) };
  } finally {
    key.plaintext.fill(0);
  }
}

/** Decrypts an active row; every failure of authenticity is a SECRET_INTEGRITY error naming the version. */
export async function openVersion(keyring: Keyring, row: VersionRow): Promise<string> {
  const { app, name, serial } = row;
  if (!row.data || !row.dataKey) throw integrity(app, name, serial, 'an active version has no ciphertext');
  const context = encryptionContext(app, name, serial);
  let dataKey: Buffer | undefined;
  try {
    dataKey = await keyring.unwrap(decodeWrappedKey(row.dataKey), context);
    return utf8.decode(openPayload(row.data, dataKey, context));
  } catch (error) {
    if (error instanceof EnvelopeError) throw integrity(app, name, serial, error.message, error);
    if (isSidekeyError(error, 'SECRET_INTEGRITY')) throw integrity(app, name, serial, error.message, error);
    if (error instanceof TypeError) throw integrity(app, name, serial, 'the payload is not UTF-8', error);
    throw error;
  } finally {
    dataKey?.fill(0);
  }
}

/** SCRAM-SHA-256 building blocks (RFC 5802, RFC 7677) shared by the client and server sides. */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
/** Random bytes in a nonce (PostgreSQL uses 18). */
export const SCRAM_NONCE_BYTES = 18;
/** Salt bytes for a verifier the proxy derives itself (PostgreSQL uses 16). */
export const SCRAM_SALT_BYTES = 16;

export const sha256 = (data: Buffer | string): Buffer => createHash('sha256').update(data).digest();
export const hmac = (key: Buffer, data: Buffer | string): Buffer => createHmac('sha256', key).update(data).digest();

/** Hi() of RFC 5802: PBKDF2 with HMAC-SHA-256. */
export function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i] as number);
  return out;
}

/** Printable nonce characters: base64 has no ',' and is what PostgreSQL itself sends. */
export function newNonce(): string {
  return randomBytes(SCRAM_NONCE_BYTES).toString('base64');
}

/** The keys derived from a salted password. */
export interface ScramKeys {
  readonly clientKey: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

export function deriveKeys(salted: Buffer): ScramKeys {
  const clientKey = hmac(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, 'Server Key') };
}

/**
 * The parts of SASLprep (RFC 4013) that change real passwords: non-ASCII spaces become a space,
 * "commonly mapped to nothing" characters go, then NFKC. Like PostgreSQL, a password that
 * SASLprep would reject (prohibited or bidi characters) is used as it is.
 */
export function saslPrep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    // biome-ignore lint/suspicious/noMisleadingCharacterClass: RFC 3454 B.1 maps each of these code points to nothing on its own, combining or not
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '');
  return mapped.normalize('NFKC');
}

/** Splits `a=1,b=2` into attributes; throws on a malformed list. */
export function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    if (part.length < 2 || part[1] !== '=') throw new Error(`malformed SCRAM attribute "${part.slice(0, 20)}"`);
    out.set(part[0] as string, part.slice(2));
  }
  return out;
}

/** Strict base64 (RFC 4648): Node's decoder silently skips junk, so check the shape first. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

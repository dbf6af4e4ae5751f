import { randomBytes } from 'node:crypto';

/** Bytes of randomness in a generated token: 32 bytes, 43 URL-safe characters. */
export const TOKEN_BYTES = 32;

/** A new random URL-safe token (base64url, no padding). */
export function randomToken(bytes = TOKEN_BYTES): string {
  return randomBytes(bytes).toString('base64url');
}

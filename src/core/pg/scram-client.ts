/**
 * The client side of SCRAM-SHA-256, as the proxy logs in to an upstream PostgreSQL with a password
 * (RFC 5802 section 3, RFC 7677). Channel binding is not used ("n" flag): the upstream hop is
 * already TLS verify-full. The server's signature is verified in constant time before login is
 * accepted, so a server that does not know the password cannot impersonate the database.
 */
import { timingSafeEqual } from 'node:crypto';
import { MAX_SCRAM_ITERATIONS } from './pg-limits.js';
import { PgPeerError } from './pg-peer-error.js';
import { decodeBase64, deriveKeys, hmac, newNonce, parseAttributes, type ScramKeys, saltedPassword, xor } from './scram-primitives.js';

const GS2_HEADER = 'n,,';

/** Keys derived from (password, salt, iterations); PBKDF2 is the costly step, so reconnects reuse them. */
const derivedCache = new Map<string, ScramKeys>();
const MAX_DERIVED_CACHE_ENTRIES = 256;

/** A SCRAM-SHA-256 exchange from the client side; call the steps in order. */
export class ScramClient {
  readonly #password: string;
  readonly #nonce: string;
  readonly #user: string;
  #clientFirstBare = '';
  #expectedServerSignature: Buffer | undefined;

  /** `user` stays empty for PostgreSQL, which takes it from the StartupMessage (libpq does the same). */
  constructor(password: string, nonce: string = newNonce(), user = '') {
    this.#password = password;
    this.#nonce = nonce;
    this.#user = user.replaceAll('=', '=3D').replaceAll(',', '=2C');
  }

  clientFirst(): Buffer {
    this.#clientFirstBare = `n=${this.#user},r=${this.#nonce}`;
    return Buffer.from(GS2_HEADER + this.#clientFirstBare, 'utf8');
  }

  /** client-final-message for the server-first-message; throws when the server's message is unacceptable. */
  clientFinal(serverFirstData: Buffer): Buffer {
    const serverFirst = serverFirstData.toString('utf8');
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = decodeBase64(attrs.get('s') ?? '');
    const iterations = Number(attrs.get('i'));
    if (!nonce?.startsWith(this.#nonce) || nonce.length === this.#nonce.length) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'SCRAM server nonce does not extend the client nonce');
    }
    if (!salt || salt.length === 0) throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'SCRAM server sent no usable salt');
    if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_SCRAM_ITERATIONS) {
      throw new PgPeerError(
        'PG_PROTOCOL_VIOLATION',
        `SCRAM iteration count ${attrs.get('i')} is out of range (1 to ${MAX_SCRAM_ITERATIONS})`,
      );
    }
    const keys = this.#keys(salt, iterations);
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const proof = xor(keys.clientKey, hmac(keys.storedKey, authMessage));
    this.#expectedServerSignature = hmac(keys.serverKey, authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks server-final-message; throws unless it carries the signature only the real server can make. */
  verifyServerFinal(serverFinalData: Buffer): void {
    const attrs = parseAttributes(serverFinalData.toString('utf8'));
    const error = attrs.get('e');
    if (error !== undefined) throw new PgPeerError('PG_UPSTREAM_REFUSED', `SCRAM server reported an error: ${error}`);
    const signature = decodeBase64(attrs.get('v') ?? '');
    const expected = this.#expectedServerSignature;
    if (!expected || !signature || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new PgPeerError('PG_UPSTREAM_REFUSED', 'SCRAM server signature does not match: the server does not know the password');
    }
  }

  #keys(salt: Buffer, iterations: number): ScramKeys {
    const cacheKey = `${iterations}:${salt.toString('base64')}:${hmac(salt, this.#password).toString('base64')}`;
    const cached = derivedCache.get(cacheKey);
    if (cached) return cached;
    const keys = deriveKeys(saltedPassword(this.#password, salt, iterations));
    if (derivedCache.size >= MAX_DERIVED_CACHE_ENTRIES) derivedCache.delete(derivedCache.keys().next().value as string);
    derivedCache.set(cacheKey, keys);
    return keys;
  }
}

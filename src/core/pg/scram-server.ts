/**
 * The server side of SCRAM-SHA-256, for local clients that must prove they know the listener's
 * configured password (RFC 5802 section 3). Only the salted verifier is kept, never the password;
 * the proof is checked in constant time. Channel binding is not offered, so a client's "y" flag
 * is accepted and "p" is refused.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LOCAL_SCRAM_ITERATIONS } from './pg-limits.js';
import { PgPeerError } from './pg-peer-error.js';
import {
  decodeBase64,
  deriveKeys,
  hmac,
  newNonce,
  parseAttributes,
  SCRAM_SALT_BYTES,
  saltedPassword,
  sha256,
  xor,
} from './scram-primitives.js';

export interface ScramVerifier {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Derives a verifier from a password with a fresh random salt (done once, at start-up). */
export function scramVerifier(password: string, iterations: number = LOCAL_SCRAM_ITERATIONS): ScramVerifier {
  const salt = randomBytes(SCRAM_SALT_BYTES);
  const { storedKey, serverKey } = deriveKeys(saltedPassword(password, salt, iterations));
  return { salt, iterations, storedKey, serverKey };
}

const malformed = (what: string) => new PgPeerError('PG_PROTOCOL_VIOLATION', `malformed SCRAM message: ${what}`);

export class ScramServerExchange {
  readonly #verifier: ScramVerifier;
  readonly #serverNonce: string;
  #gs2Header = '';
  #clientFirstBare = '';
  #serverFirst = '';
  #nonce = '';

  constructor(verifier: ScramVerifier, serverNonce: string = newNonce()) {
    this.#verifier = verifier;
    this.#serverNonce = serverNonce;
  }

  /** Reads client-first-message and answers server-first-message. */
  serverFirst(clientFirstData: Buffer): Buffer {
    const text = clientFirstData.toString('utf8');
    const match = /^((?:n|y|p=[A-Za-z0-9.-]+),(?:a=[^,]*)?,)(.*)$/s.exec(text);
    if (!match) throw malformed('the GS2 header is not n,, or y,,');
    this.#gs2Header = match[1] as string;
    if (this.#gs2Header.startsWith('p=')) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', 'channel binding was not offered by the sidekey proxy', {
        hint: 'connect with channel_binding=prefer or disable',
      });
    }
    this.#clientFirstBare = match[2] as string;
    let attrs: Map<string, string>;
    try {
      attrs = parseAttributes(this.#clientFirstBare);
    } catch {
      throw malformed('client-first-message attributes');
    }
    if (attrs.has('m')) throw new PgPeerError('PG_UNSUPPORTED', 'SCRAM mandatory extensions are not supported');
    const clientNonce = attrs.get('r');
    if (!clientNonce || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) throw malformed('the client nonce');
    this.#nonce = clientNonce + this.#serverNonce;
    this.#serverFirst = `r=${this.#nonce},s=${this.#verifier.salt.toString('base64')},i=${this.#verifier.iterations}`;
    return Buffer.from(this.#serverFirst, 'utf8');
  }

  /** Checks client-final-message; answers server-final-message, or throws 28P01 on a wrong password. */
  serverFinal(clientFinalData: Buffer, user: string): Buffer {
    const text = clientFinalData.toString('utf8');
    const proofAt = text.lastIndexOf(',p=');
    if (proofAt < 0) throw malformed('client-final-message has no proof');
    const withoutProof = text.slice(0, proofAt);
    let attrs: Map<string, string>;
    try {
      attrs = parseAttributes(withoutProof);
    } catch {
      throw malformed('client-final-message attributes');
    }
    if (attrs.get('c') !== Buffer.from(this.#gs2Header).toString('base64'))
      throw malformed('channel binding data does not match the GS2 header');
    if (attrs.get('r') !== this.#nonce) throw malformed('the nonce does not match');
    const proof = decodeBase64(text.slice(proofAt + 3));
    if (!proof || proof.length !== this.#verifier.storedKey.length) throw malformed('the proof');
    const authMessage = `${this.#clientFirstBare},${this.#serverFirst},${withoutProof}`;
    const clientKey = xor(proof, hmac(this.#verifier.storedKey, authMessage));
    if (!timingSafeEqual(sha256(clientKey), this.#verifier.storedKey)) {
      throw new PgPeerError('PG_PASSWORD_REFUSED', `password authentication failed for user "${user}"`, {
        hint: 'use the password in postgres.targets.<name>.client_auth.password of the sidekey config',
      });
    }
    return Buffer.from(`v=${hmac(this.#verifier.serverKey, authMessage).toString('base64')}`, 'utf8');
  }
}

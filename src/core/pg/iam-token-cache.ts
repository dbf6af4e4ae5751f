/**
 * RDS IAM auth tokens, cached per (target, DB user). A token is reused for at most 14 minutes
 * (it is valid for 15) and never past the expiry of the credentials that signed it; concurrent
 * requests for the same key share one signature (single flight), so a burst of new connections
 * stays far under the IAM authentication rate AWS advises (200 new connections per second).
 */
import { Signer } from '@aws-sdk/rds-signer';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Longest a token is reused; RDS accepts a token for 15 minutes after signing. */
export const TOKEN_CACHE_MAX_AGE_MS = 14 * 60 * 1000; // 14 min
/** A token is not reused when the signing credentials expire within this margin. */
export const CREDENTIAL_EXPIRY_MARGIN_MS = 30 * 1000; // 30 s

export interface TokenRequest {
  /** Target name (the cache key, with the user). */
  readonly target: string;
  readonly hostname: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly credentials: AwsCredentialIdentityProvider;
}

/** Signs a token with resolved credentials; the default uses @aws-sdk/rds-signer. */
export type TokenSigner = (request: TokenRequest, identity: AwsCredentialIdentity) => Promise<string>;

export type TokenLookupOutcome = 'hit' | 'miss' | 'joined';

export interface IamTokenCacheOptions {
  readonly signer?: TokenSigner;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  readonly now?: () => number;
  readonly onLookup?: (outcome: TokenLookupOutcome, target: string) => void;
}

interface Entry {
  readonly token: string;
  readonly reuseUntil: number;
}

export const rdsSigner: TokenSigner = async (request, identity) =>
  new Signer({
    hostname: request.hostname,
    port: request.port,
    username: request.user,
    region: request.region,
    credentials: identity,
  }).getAuthToken();

export class IamTokenCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string>>();
  readonly #signer: TokenSigner;
  readonly #now: () => number;
  readonly #onLookup: IamTokenCacheOptions['onLookup'];

  constructor(options: IamTokenCacheOptions = {}) {
    this.#signer = options.signer ?? rdsSigner;
    this.#now = options.now ?? Date.now;
    this.#onLookup = options.onLookup;
  }

  async token(request: TokenRequest): Promise<string> {
    const key = JSON.stringify([request.target, request.user, request.hostname, request.port, request.region]);
    const entry = this.#entries.get(key);
    if (entry && entry.reuseUntil > this.#now()) {
      this.#onLookup?.('hit', request.target);
      return entry.token;
    }
    const pending = this.#inFlight.get(key);
    if (pending) {
      this.#onLookup?.('joined', request.target);
      return pending;
    }
    this.#onLookup?.('miss', request.target);
    const signing = this.#sign(key, request).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, signing);
    return signing;
  }

  /** Forgets cached tokens (all, or one target's), e.g. after a reload changed the target. */
  clear(target?: string): void {
    for (const key of this.#entries.keys())
      if (target === undefined || (JSON.parse(key) as string[])[0] === target) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }

  async #sign(key: string, request: TokenRequest): Promise<string> {
    const identity = await request.credentials();
    const signedAt = this.#now();
    const token = await this.#signer(request, identity);
    const credentialLimit = identity.expiration ? identity.expiration.getTime() - CREDENTIAL_EXPIRY_MARGIN_MS : Number.POSITIVE_INFINITY;
    const reuseUntil = Math.min(signedAt + TOKEN_CACHE_MAX_AGE_MS, credentialLimit);
    this.#prune();
    if (reuseUntil > this.#now()) this.#entries.set(key, { token, reuseUntil });
    else this.#entries.delete(key);
    return token;
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, entry] of this.#entries) if (entry.reuseUntil <= now) this.#entries.delete(key);
  }
}

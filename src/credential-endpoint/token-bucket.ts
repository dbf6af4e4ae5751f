/**
 * Per-service request rate limits for the credential endpoint: a token bucket per service, so one
 * noisy caller is answered 429 while every other service keeps being served. AWS's own ECS agent
 * limits each task the same way (40 rps steady, 60 burst).
 */
import { performance } from 'node:perf_hooks';
import type { RateLimit } from '../core/credentials/credential-broker.js';

export class TokenBucket {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.#ratePerMs = limit.per_second / 1000;
    this.#burst = limit.burst;
    this.#now = now;
    this.#tokens = limit.burst;
    this.#updatedAt = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#updatedAt) * this.#ratePerMs);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Whole seconds until a token is available (for Retry-After). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#ratePerMs / 1000));
  }
}

/** One bucket per service; a service's bucket is rebuilt when its limit changes (on reload). */
export class ServiceRateLimits {
  readonly #buckets = new Map<string, { readonly limit: RateLimit; readonly key: string; readonly bucket: TokenBucket }>();
  readonly #limitOf: (service: string) => RateLimit;

  constructor(limitOf: (service: string) => RateLimit) {
    this.#limitOf = limitOf;
  }

  bucket(service: string): TokenBucket {
    const limit = this.#limitOf(service);
    const entry = this.#buckets.get(service);
    // The same (frozen) config object as last time: no key to build on the hot path.
    if (entry?.limit === limit) return entry.bucket;
    const key = `${limit.per_second}/${limit.burst}`;
    if (entry?.key === key) {
      this.#buckets.set(service, { limit, key, bucket: entry.bucket });
      return entry.bucket;
    }
    const bucket = new TokenBucket(limit);
    this.#buckets.set(service, { limit, key, bucket });
    return bucket;
  }

  /** Forgets buckets of services that no longer exist. */
  retain(services: readonly string[]): void {
    const keep = new Set(services);
    for (const service of this.#buckets.keys()) if (!keep.has(service)) this.#buckets.delete(service);
  }
}

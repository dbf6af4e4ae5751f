/**
 * Answers to static metadata paths, kept for `cache_ttl_seconds` so that bursts do not hit IMDS
 * throttling; concurrent misses for one key share one upstream request. Credential and token
 * answers never come here (the handler only offers GETs of forwarded, non-token paths).
 */
import type { UpstreamAnswer } from './upstream-client.js';

/** Most answers held; the oldest is dropped first. */
export const MAX_CACHE_ENTRIES = 1024;
/** Largest answer kept, in bytes. */
export const MAX_CACHED_BODY_BYTES = 64 * 1024; // 64 KiB
/** Statuses that are properties of the path, not of the moment: kept. Errors and 401s are not. */
const CACHEABLE_STATUSES: ReadonlySet<number> = new Set([200, 301, 404]);

interface Entry {
  readonly answer: UpstreamAnswer;
  readonly expiresAt: number;
}

export class StaticCache {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<UpstreamAnswer>>();

  constructor(ttlSeconds: number, now: () => number = Date.now) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** The cached answer for `key`, or the one `load` gives (shared by concurrent callers). */
  async fetch(key: string, load: () => Promise<UpstreamAnswer>): Promise<{ answer: UpstreamAnswer; hit: boolean }> {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt > this.#now()) return { answer: entry.answer, hit: true };
    if (entry) this.#entries.delete(key);
    const pending = this.#inFlight.get(key);
    if (pending) return { answer: await pending, hit: true };
    const loading = load().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, loading);
    const answer = await loading;
    if (this.enabled && CACHEABLE_STATUSES.has(answer.status) && answer.body.length <= MAX_CACHED_BODY_BYTES) {
      if (this.#entries.size >= MAX_CACHE_ENTRIES) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(key, { answer, expiresAt: this.#now() + this.#ttlMs });
    }
    return { answer, hit: false };
  }

  clear(): void {
    this.#entries.clear();
  }
}

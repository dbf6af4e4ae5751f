/**
 * The agent's read-through cache: one answer per (secret, version id, stage) kept `ttlMs`, one call
 * to the source per key however many callers wait for it (a fleet restart asks once), and a forced
 * refresh per request (`refreshNow=true`) that still joins a call already under way. A failed call
 * is not cached: the next request asks again.
 */
import type { SecretQuery } from './agent-answer.js';

/** Most answers kept; past it the oldest is dropped. */
export const MAX_CACHED_SECRETS = 1000;

interface Entry {
  readonly body: string;
  readonly fetchedAt: number;
}

export class SecretValueCache {
  readonly #fetch: (query: SecretQuery) => Promise<string>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string>>();

  constructor(fetch: (query: SecretQuery) => Promise<string>, ttlMs: number, now: () => number = Date.now) {
    this.#fetch = fetch;
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  get(query: SecretQuery, refresh = false): Promise<string> {
    const key = JSON.stringify([query.secretId, query.versionId ?? null, query.versionStage ?? null]);
    const entry = this.#entries.get(key);
    if (!refresh && entry && this.#now() - entry.fetchedAt < this.#ttlMs) return Promise.resolve(entry.body);
    const running = this.#inFlight.get(key);
    if (running) return running;
    const call = this.#fetch(query).then(
      (body) => {
        this.#inFlight.delete(key);
        if (this.#ttlMs > 0) {
          this.#entries.delete(key);
          if (this.#entries.size >= MAX_CACHED_SECRETS) this.#entries.delete(this.#entries.keys().next().value as string);
          this.#entries.set(key, { body, fetchedAt: this.#now() });
        }
        return body;
      },
      (error: unknown) => {
        this.#inFlight.delete(key);
        throw error;
      },
    );
    this.#inFlight.set(key, call);
    return call;
  }

  clear(): void {
    this.#entries.clear();
  }
}

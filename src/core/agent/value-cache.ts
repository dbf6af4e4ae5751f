/**
 * The agent's read-through cache. One answer per key, kept `ttlMs`, and one call to the source per
 * key however many callers wait (a fleet restart asks once).
 *
 * Refresh-ahead: once an answer has lived a jittered 75-90% of its TTL, the next request is
 * answered from the cache and starts one background refresh, so steady callers never wait on the
 * source and a fleet that started together does not refresh together.
 *
 * Stale-if-error: when the source fails in a way that says nothing about the secret (throttling,
 * a 5xx, a timeout, no connection), an answer up to `staleMs` past its TTL is served instead of
 * the error. A refusal that does (not found, access denied) is passed on at once, so a deleted
 * secret or a revoked permission is honoured. Failures are never cached.
 *
 * A forced refresh (`refreshNow=true`) asks the source now, joining a call already under way, and
 * gets the source's error rather than a stale answer: the caller asked for a fresh one.
 */
import { AgentError } from './agent-answer.js';

/** Most answers kept; past it the oldest is dropped. */
export const MAX_CACHED_VALUES = 1000;
/** A background refresh starts once an answer has lived this fraction of its TTL, plus jitter. */
export const REFRESH_AHEAD_FRACTION = 0.75;
/** The jitter added to REFRESH_AHEAD_FRACTION: up to this fraction of the TTL. */
export const REFRESH_JITTER_FRACTION = 0.15;

interface Entry {
  readonly body: string;
  readonly fetchedAt: number;
  readonly refreshAt: number;
}

export interface ValueCacheOptions {
  readonly ttlMs: number;
  /** How long past its TTL an answer may stand in for a transient failure; 0 never. */
  readonly staleMs: number;
  /** Told of each failed background refresh and of each stale answer served. */
  readonly onStale?: (key: string, error: AgentError) => void;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Whether a failure says nothing about the secret itself, so an older answer may stand in. */
export function isTransient(error: unknown): boolean {
  return error instanceof AgentError && (error.status >= 500 || error.type === 'ThrottlingException');
}

export class ValueCache {
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #onStale: (key: string, error: AgentError) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string>>();
  /** Counts clear() calls: a call started before the latest one brings back nothing to keep. */
  #generation = 0;

  constructor(options: ValueCacheOptions) {
    this.#ttlMs = options.ttlMs;
    this.#staleMs = options.staleMs;
    this.#onStale = options.onStale ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /**
   * The held answer while it is fresh (starting the background refresh once it is due), else
   * undefined: a cached read answers without waiting on a promise.
   */
  fresh(key: string, fetch: () => Promise<string>): string | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    const now = this.#now();
    if (now >= entry.fetchedAt + this.#ttlMs) return undefined;
    if (now >= entry.refreshAt && !this.#inFlight.has(key))
      this.#call(key, fetch).catch((error: unknown) => {
        if (error instanceof AgentError) this.#onStale(key, error);
      });
    return entry.body;
  }

  async get(key: string, fetch: () => Promise<string>, refresh = false): Promise<string> {
    const cached = refresh ? undefined : this.fresh(key, fetch);
    if (cached !== undefined) return cached;
    try {
      return await this.#call(key, fetch);
    } catch (error) {
      const held = this.#entries.get(key);
      if (!refresh && held && isTransient(error) && this.#now() < held.fetchedAt + this.#ttlMs + this.#staleMs) {
        this.#onStale(key, error as AgentError);
        return held.body;
      }
      throw error;
    }
  }

  /** One call per key: a caller arriving while one runs joins it. */
  #call(key: string, fetch: () => Promise<string>): Promise<string> {
    const running = this.#inFlight.get(key);
    if (running) return running;
    const generation = this.#generation;
    const current = () => generation === this.#generation;
    const call = fetch().then(
      (body) => {
        if (current()) {
          this.#inFlight.delete(key);
          if (this.#ttlMs > 0) this.#keep(key, body);
        }
        return body;
      },
      (error: unknown) => {
        if (current()) {
          this.#inFlight.delete(key);
          // A refusal about the secret itself ends what was known of it.
          if (!isTransient(error)) this.#entries.delete(key);
        }
        throw error;
      },
    );
    this.#inFlight.set(key, call);
    return call;
  }

  #keep(key: string, body: string): void {
    const fetchedAt = this.#now();
    const ahead = REFRESH_AHEAD_FRACTION + this.#random() * REFRESH_JITTER_FRACTION;
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_CACHED_VALUES) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, { body, fetchedAt, refreshAt: fetchedAt + this.#ttlMs * ahead });
  }

  /**
   * Forgets every answer, and the calls under way: their callers still get what they bring back,
   * but it is not kept, and a caller after this starts a call of its own (a reload's new token
   * patterns must not meet an answer filtered by the old ones).
   */
  clear(): void {
    this.#entries.clear();
    this.#inFlight.clear();
    this.#generation += 1;
  }
}

/**
 * Decrypted values held in memory for a short TTL, so a hot fetch costs no store read and no
 * KMS call. Every local write to a name drops that name's entries at once, and a fetch that
 * started before that write may not fill the cache afterwards (its value may be the revoked one):
 * it passes the epoch it read before going to the store, and a write moves the epoch on. Writes
 * made by other processes empty it when the store can tell (SQLite), else they are seen after at
 * most the TTL (docs/secrets.md says so).
 */
import { MAX_CACHE_ENTRIES } from './secret-limits.js';

export interface CachedVersion {
  readonly name: string;
  readonly serial: number;
  readonly payload: string;
  readonly active: true;
}

interface Entry {
  readonly value: CachedVersion;
  readonly expiresAt: number;
}

export class SecretCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Insertion-ordered, so the first key is the oldest. */
  readonly #entries = new Map<string, Entry>();
  /** Names (app/name) to their cache keys, for invalidation. */
  readonly #byName = new Map<string, Set<string>>();
  /** Moves on at every invalidation: a fill that began in an earlier epoch is dropped. */
  #epoch = 0;

  constructor(ttlSeconds: number, options: { maxEntries?: number; now?: () => number } = {}) {
    this.#ttlMs = ttlSeconds * 1000;
    this.#maxEntries = options.maxEntries ?? MAX_CACHE_ENTRIES;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#ttlMs > 0;
  }

  /** Read before going to the store; pass it to set(). */
  get epoch(): number {
    return this.#epoch;
  }

  get size(): number {
    return this.#entries.size;
  }

  static key(app: string, name: string, serial: number | undefined): string {
    return `${app}/${name}#${serial ?? 'latest'}`;
  }

  get(app: string, name: string, serial: number | undefined): CachedVersion | undefined {
    if (!this.enabled) return undefined;
    const key = SecretCache.key(app, name, serial);
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Caches a value read from the store, unless a write has happened since `epoch` was read. */
  set(app: string, name: string, serial: number | undefined, value: CachedVersion, epoch: number): void {
    if (!this.enabled || epoch !== this.#epoch) return;
    const key = SecretCache.key(app, name, serial);
    this.#entries.delete(key);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expiresAt: this.#now() + this.#ttlMs });
    const nameKey = `${app}/${name}`;
    let keys = this.#byName.get(nameKey);
    if (!keys) {
      keys = new Set();
      this.#byName.set(nameKey, keys);
    }
    keys.add(key);
  }

  /** Drops every cached version of a name. */
  invalidate(app: string, name: string): void {
    this.#epoch += 1;
    const nameKey = `${app}/${name}`;
    for (const key of this.#byName.get(nameKey) ?? []) this.#entries.delete(key);
    this.#byName.delete(nameKey);
  }

  clear(): void {
    this.#epoch += 1;
    this.#entries.clear();
    this.#byName.clear();
  }
}

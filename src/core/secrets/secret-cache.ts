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

/** Where a name's latest version is kept among its versions (the others by serial). */
const LATEST = 'latest';
type Versions = Map<number | typeof LATEST, Entry>;

export class SecretCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /**
   * Application, then name, then version. A fill moves its version, name and application to the
   * end of their maps, so the first version of the first name of the first application is the
   * oldest entry.
   */
  readonly #apps = new Map<string, Map<string, Versions>>();
  #size = 0;
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
    return this.#size;
  }

  get(app: string, name: string, serial: number | undefined): CachedVersion | undefined {
    if (!this.enabled) return undefined;
    const versions = this.#apps.get(app)?.get(name);
    const version = serial ?? LATEST;
    const entry = versions?.get(version);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#drop(app, name, versions as Versions, version);
      return undefined;
    }
    return entry.value;
  }

  /** Caches a value read from the store, unless a write has happened since `epoch` was read. */
  set(app: string, name: string, serial: number | undefined, value: CachedVersion, epoch: number): void {
    if (!this.enabled || epoch !== this.#epoch) return;
    const version = serial ?? LATEST;
    const known = this.#apps.get(app)?.get(name);
    if (known?.has(version)) this.#drop(app, name, known, version);
    while (this.#size > 0 && this.#size >= this.#maxEntries) this.#dropOldest();
    const names = this.#apps.get(app) ?? new Map<string, Versions>();
    const versions: Versions = names.get(name) ?? new Map();
    versions.set(version, { value, expiresAt: this.#now() + this.#ttlMs });
    this.#size += 1;
    names.delete(name);
    names.set(name, versions);
    this.#apps.delete(app);
    this.#apps.set(app, names);
  }

  /** Drops every cached version of a name. */
  invalidate(app: string, name: string): void {
    this.#epoch += 1;
    const versions = this.#apps.get(app)?.get(name);
    if (!versions) return;
    this.#size -= versions.size;
    this.#forgetName(app, name);
  }

  clear(): void {
    this.#epoch += 1;
    this.#apps.clear();
    this.#size = 0;
  }

  #drop(app: string, name: string, versions: Versions, version: number | typeof LATEST): void {
    versions.delete(version);
    this.#size -= 1;
    if (versions.size === 0) this.#forgetName(app, name);
  }

  /** Removes a name's (emptied or dropped) versions, and its application once it holds no name. */
  #forgetName(app: string, name: string): void {
    const names = this.#apps.get(app) as Map<string, Versions>;
    names.delete(name);
    if (names.size === 0) this.#apps.delete(app);
  }

  #dropOldest(): void {
    const [app, names] = this.#apps.entries().next().value as [string, Map<string, Versions>];
    const [name, versions] = names.entries().next().value as [string, Versions];
    this.#drop(app, name, versions, versions.keys().next().value as number | typeof LATEST);
  }
}

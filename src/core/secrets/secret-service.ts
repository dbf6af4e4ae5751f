/**
 * The secrets store's operations: create with optional check-and-set, fetch of the
 * latest *active* version or a given serial, list, history, revoke (inactive and destroyed),
 * restore, rotate, delete, rewrap. No sockets here: the REST front and the CLI both call this.
 * Every operation writes one audit line (actor, app, name, serial, outcome; never the payload).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isSidekeyError, SidekeyError } from '../errors.js';
import { audit, auditLine, auditLogger } from '../log/audit.js';
import type { Logger } from '../log/logger.js';
import type { CounterHandle, MetricsRegistry } from '../metrics/metrics-registry.js';
import { AfterArrivalChecks } from './after-arrival-checks.js';
import { KeyedMutex } from './keyed-mutex.js';

import type { Keyring } from './keyring.js';
import { type GeneratorSpec, generatePayload } from './payload-generator.js';
import { type RewrapReport, rewrapDataKeys } from './rewrap-data-keys.js';
import { type CachedVersion, SecretCache } from './secret-cache.js';
import { checkName, conflict, notFound, revoked } from './secret-errors.js';
import { MAX_ACTOR_LENGTH, MAX_CREATE_ATTEMPTS, MAX_PAYLOAD_BYTES, MAX_SERIAL } from './secret-limits.js';
import type { SecretStore, VersionMeta } from './secret-store.js';
import { envelopeCodec, type VersionCodec } from './version-codec.js';

/** Upper bound of the random pause before retrying a create that lost its serial, in ms. */
export const CREATE_RETRY_JITTER_MS = 5;

export type SecretValue = CachedVersion;

const WRITE_OPERATIONS = new Set(['create', 'rotate', 'restore', 'revoke', 'delete']);

export interface WriteResult {
  readonly name: string;
  readonly serial: number;
  readonly active: boolean;
}

export interface WriteOptions {
  /** Who writes: a token id, or `cli:USER`. Recorded in created_by / revoked_by. */
  readonly actor: string;
  /** Check-and-set: the current serial must be this (0: the name must not exist yet). */
  readonly expectedSerial?: number;
}

export interface SecretServiceOptions {
  readonly store: SecretStore;
  readonly keyring: Keyring;
  /** How versions are sealed and opened; sidekey's envelope under `keyring` unless given (ecs-secrets tables). */
  readonly codec?: VersionCodec;
  readonly cacheTtlSeconds?: number;
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
}

/** Checks a payload and returns its UTF-8 bytes. */
export function payloadBytes(payload: unknown): Buffer {
  if (typeof payload !== 'string') throw new SidekeyError('BAD_REQUEST', 'payload must be a string');
  if (payload.length === 0) throw new SidekeyError('BAD_REQUEST', 'payload must not be empty (use revoke or delete to remove a secret)');
  const bytes = Buffer.from(payload, 'utf8');
  if (bytes.length > MAX_PAYLOAD_BYTES) {
    throw new SidekeyError('PAYLOAD_TOO_LARGE', `payload is ${bytes.length} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes (64 KiB)`);
  }
  return bytes;
}

function outcomeOf(error: unknown): string {
  return isSidekeyError(error) ? error.code : 'SK_INTERNAL';
}

/** Who reads through `fetchCached`: a configured token of the REST API. */
export interface FetchCaller {
  readonly id: string;
  readonly application: string;
}

/** The audit event of every read of a value. */
const FETCH_EVENT = 'secrets.fetch';

export class SecretService {
  readonly store: SecretStore;
  readonly keyring: Keyring;
  readonly codec: VersionCodec;
  readonly #cache: SecretCache;
  readonly #logger: Logger | undefined;
  readonly #locks = new KeyedMutex();
  readonly #currentChecks = new AfterArrivalChecks<boolean>();
  readonly #operations;
  /** Bound once: a cached fetch increments a number, with no label lookup. */
  readonly #cacheHits: CounterHandle | undefined;
  readonly #cacheMisses: CounterHandle | undefined;
  readonly #changeListeners = new Set<(app: string, name: string) => void>();
  readonly #fetchLoggers = new WeakMap<FetchCaller, Logger>();

  constructor(options: SecretServiceOptions) {
    this.store = options.store;
    this.keyring = options.keyring;
    this.codec = options.codec ?? envelopeCodec(options.keyring);
    this.#cache = new SecretCache(options.cacheTtlSeconds ?? 0);
    this.#logger = options.logger;
    this.#operations = options.metrics?.counter(
      'sidekey_secrets_operations_total',
      'Secrets operations that reached the store, by operation and outcome (cache hits: sidekey_secrets_cache_total).',
      ['operation', 'outcome'],
    );
    const cacheResults = options.metrics?.counter(
      'sidekey_secrets_cache_total',
      'Secret fetches answered from the cache (hit) or not (miss).',
      ['result'],
    );
    this.#cacheHits = cacheResults?.labels({ result: 'hit' });
    this.#cacheMisses = cacheResults?.labels({ result: 'miss' });
  }

  get cache(): SecretCache {
    return this.#cache;
  }

  async #audited<T>(
    operation: string,
    fields: { actor: string; app: string; name?: string; serial?: number },
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      const result = await fn();
      this.#operations?.inc({ operation, outcome: 'ok' });
      if (fields.name !== undefined && WRITE_OPERATIONS.has(operation))
        for (const listener of this.#changeListeners) listener(fields.app, fields.name);
      if (this.#logger)
        audit(this.#logger, `secrets.${operation}`, {
          ...fields,
          serial: (result as { serial?: number }).serial ?? fields.serial,
          outcome: 'ok',
        });
      return result;
    } catch (error) {
      const outcome = outcomeOf(error);
      this.#operations?.inc({ operation, outcome });
      if (this.#logger) {
        const serial = (isSidekeyError(error) ? error.details?.serial : undefined) ?? fields.serial;
        audit(this.#logger, `secrets.${operation}`, { ...fields, serial, outcome });
        if (!isSidekeyError(error) || !error.expose) this.#logger.error({ err: error, operation }, 'secrets operation failed');
      }
      throw error;
    }
  }

  #actor(actor: string): string {
    return actor.slice(0, MAX_ACTOR_LENGTH);
  }

  async #append(app: string, name: string, payload: Buffer, options: WriteOptions): Promise<WriteResult> {
    return this.#locks.run(`${app}/${name}`, async () => {
      for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt++) {
        const current = await this.store.latestSerial(app, name);
        // A serial no create could follow (1E+300, NaN) was not written by sidekey: say so at once
        // instead of losing MAX_CREATE_ATTEMPTS races against a number that does not move.
        if (!Number.isSafeInteger(current) || current < 0 || current >= MAX_SERIAL) {
          throw new SidekeyError(
            'SECRET_CONFLICT',
            `secret "${name}" in application "${app}" has a stored serial (${String(current).slice(0, 32)}) beyond the highest serial ${MAX_SERIAL}: that row was not written by sidekey; remove it from the store`,
          );
        }
        if (options.expectedSerial !== undefined && current !== options.expectedSerial)
          throw conflict(app, name, options.expectedSerial, current);
        const serial = current + 1;
        const sealed = await this.codec.seal(app, name, serial, payload);
        const inserted = await this.store.insert({
          app,
          name,
          serial,
          active: true,
          data: sealed.data,
          dataKey: sealed.dataKey,
          createdAt: new Date().toISOString(),
          createdBy: this.#actor(options.actor),
        });
        if (inserted) {
          this.#cache.invalidate(app, name);
          return { name, serial, active: true };
        }
        // Another process took this serial between our read and our conditional write.
        if (options.expectedSerial !== undefined)
          throw conflict(app, name, options.expectedSerial, await this.store.latestSerial(app, name));
        await sleep(Math.random() * CREATE_RETRY_JITTER_MS);
      }
      throw new SidekeyError(
        'SECRET_CONFLICT',
        `secret "${name}" in application "${app}" is written too often: no serial won after ${MAX_CREATE_ATTEMPTS} attempts`,
      );
    });
  }

  create(app: string, name: string, payload: unknown, options: WriteOptions): Promise<WriteResult> {
    return this.#audited('create', { actor: options.actor, app, name }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      return this.#append(app, name, payloadBytes(payload), options);
    });
  }

  async #fetch(app: string, name: string, serial: number | undefined): Promise<SecretValue> {
    const cached = this.#cache.get(app, name, serial);
    if (cached && this.store.stillCurrent) {
      // A revoke or a new version written by another process is seen at once, for one read and no decryption.
      const store = this.store as Required<Pick<SecretStore, 'stillCurrent'>>;
      const latest = serial === undefined;
      const current = await this.#currentChecks.run(`${app}\0${name}\0${cached.serial}\0${latest}`, () =>
        store.stillCurrent(app, name, cached.serial, latest),
      );
      if (current) {
        this.#cacheHits?.inc();
        return cached;
      }
      this.#cache.invalidate(app, name);
    }
    if (this.#cache.enabled) this.#cacheMisses?.inc();
    const epoch = this.#cache.epoch;
    const row = serial === undefined ? await this.store.latestActive(app, name) : await this.store.get(app, name, serial);
    if (!row) {
      if (serial !== undefined) throw notFound(app, name, serial);
      const latest = await this.store.latestSerial(app, name);
      throw latest === 0 ? notFound(app, name) : revoked(app, name, latest, true);
    }
    if (!row.active) throw revoked(app, name, row.serial, false);
    // Frozen: the cache hands this same object to every hit, and the API keeps its JSON by object.
    const value: SecretValue = Object.freeze({ name, serial: row.serial, payload: await this.codec.open(row), active: true });
    this.#cache.set(app, name, serial, value, epoch);
    return value;
  }

  /** A cached value, counted as a hit; undefined when only the store can answer (fetchStored). */
  #cachedValue(app: string, name: string, serial: number | undefined): SecretValue | undefined {
    // A store that must be asked whether a cached value is still current answers through fetchStored.
    if (!this.#cache.enabled || this.store.stillCurrent) return undefined;
    // A revoke by the CLI or another daemon on the same store is seen at the next fetch, not after the TTL.
    if (this.store.writtenElsewhere?.()) this.#cache.clear();
    const cached = this.#cache.get(app, name, serial);
    if (cached !== undefined) this.#cacheHits?.inc();
    return cached;
  }

  /**
   * The hot path of `fetch` for a caller of the REST API, synchronous: the cached value (counted
   * and audited as a fetch), or undefined when it is not cached and only `fetchStored` can answer.
   * Only validated names are ever cached, so a hit needs no checks and no store; a caller that
   * answers from it settles no promise.
   */
  fetchCached(caller: FetchCaller, name: string, serial: number | undefined): SecretValue | undefined {
    const cached = this.#cachedValue(caller.application, name, serial);
    if (cached !== undefined && this.#logger)
      auditLine(this.#fetchEvents(caller, this.#logger), FETCH_EVENT, { name, serial: cached.serial, outcome: 'ok' });
    return cached;
  }

  /**
   * The fetch audit logger of one caller, with its actor and application bound (serialized once,
   * not on every line). Kept by caller object: callers live as long as the token configuration,
   * and a reload's new ones get their own.
   */
  #fetchEvents(caller: FetchCaller, logger: Logger): Logger {
    const known = this.#fetchLoggers.get(caller);
    if (known) return known;
    const events = auditLogger(logger, FETCH_EVENT, { actor: caller.id, app: caller.application });
    this.#fetchLoggers.set(caller, events);
    return events;
  }

  /** The latest active version, or the given serial. Revoked: SECRET_REVOKED (410). */
  fetch(app: string, name: string, serial: number | undefined, actor: string): Promise<SecretValue> {
    const cached = this.#cachedValue(app, name, serial);
    if (cached === undefined) return this.fetchStored(app, name, serial, actor);
    if (this.#logger) audit(this.#logger, FETCH_EVENT, { actor, app, name, serial: cached.serial, outcome: 'ok' });
    return Promise.resolve(cached);
  }

  /** `fetch` for a caller that already found the cache empty (fetchCached): from the store, audited. */
  fetchStored(app: string, name: string, serial: number | undefined, actor: string): Promise<SecretValue> {
    return this.#audited('fetch', { actor, app, name, ...(serial !== undefined ? { serial } : {}) }, () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      return this.#fetch(app, name, serial);
    });
  }

  /**
   * The serial of the latest active version, for watchers: read like a fetch (the cache, then the
   * store) but not audited, since a watch polls; the watcher's answer is fetched and audited.
   * Throws as fetch does (SECRET_NOT_FOUND, SECRET_REVOKED).
   */
  async currentSerial(app: string, name: string): Promise<number> {
    if (this.store.writtenElsewhere?.()) this.#cache.clear();
    return (await this.#fetch(app, name, undefined)).serial;
  }

  /** Calls `listener` after each write to a name made through this service; returns the unsubscribe. */
  onChange(listener: (app: string, name: string) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  list(app: string, actor: string): Promise<{ names: string[] }> {
    return this.#audited('list', { actor, app }, async () => {
      checkName(app, 'application name');
      return { names: await this.store.listNames(app) };
    });
  }

  history(app: string, name: string, actor: string): Promise<{ name: string; versions: VersionMeta[] }> {
    return this.#audited('history', { actor, app, name }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      const versions = await this.store.history(app, name);
      if (versions.length === 0) throw notFound(app, name);
      return { name, versions };
    });
  }

  /** Marks a version inactive and destroys its ciphertext; revoking a revoked version is a no-op. */
  revoke(app: string, name: string, serial: number, actor: string): Promise<WriteResult> {
    return this.#audited('revoke', { actor, app, name, serial }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      const outcome = await this.#locks.run(`${app}/${name}`, () =>
        this.store.revoke(app, name, serial, this.#actor(actor), new Date().toISOString()),
      );
      this.#cache.invalidate(app, name);
      if (outcome === 'missing') throw notFound(app, name, serial);
      return { name, serial, active: false };
    });
  }

  /** A new version with the payload of an older, still active one (server-side rollback). */
  restore(app: string, name: string, serial: number, options: WriteOptions): Promise<WriteResult & { restoredFrom: number }> {
    return this.#audited('restore', { actor: options.actor, app, name }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      const row = await this.store.get(app, name, serial);
      if (!row) throw notFound(app, name, serial);
      if (!row.active) throw revoked(app, name, serial, false);
      const payload = Buffer.from(await this.codec.open(row), 'utf8');
      try {
        return { ...(await this.#append(app, name, payload, options)), restoredFrom: serial };
      } finally {
        payload.fill(0);
      }
    });
  }

  /** A new version from a generator, or from a given payload (stdin). */
  rotate(
    app: string,
    name: string,
    source: { generate: GeneratorSpec } | { payload: unknown },
    options: WriteOptions,
  ): Promise<WriteResult> {
    return this.#audited('rotate', { actor: options.actor, app, name }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      const payload = 'generate' in source ? generatePayload(source.generate) : source.payload;
      return this.#append(app, name, payloadBytes(payload), options);
    });
  }

  /** Removes every version of a name. */
  delete(app: string, name: string, actor: string): Promise<{ name: string; deleted: number }> {
    return this.#audited('delete', { actor, app, name }, async () => {
      checkName(app, 'application name');
      checkName(name, 'secret name');
      const deleted = await this.#locks.run(`${app}/${name}`, () => this.store.deleteAll(app, name));
      this.#cache.invalidate(app, name);
      if (deleted === 0) throw notFound(app, name);
      return { name, deleted };
    });
  }

  /** Re-wraps every data key under the keyring's newest master key (rewrap-data-keys.ts), audited. */
  rewrap(actor: string): Promise<RewrapReport> {
    return this.#audited('rewrap', { actor, app: '*' }, async () => {
      if (this.store.kind === 'ecs-secrets')
        throw new SidekeyError(
          'USAGE',
          "rewrap re-wraps sidekey's envelopes; ecs-secrets tables hold KMS ciphertexts without context: move the secrets into a sidekey store instead",
        );
      return rewrapDataKeys(this.store, this.keyring, this.#logger);
    });
  }

  async close(): Promise<void> {
    this.#cache.clear();
    await this.store.close();
  }
}

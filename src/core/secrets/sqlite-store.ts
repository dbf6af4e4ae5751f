/**
 * The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so a write is on disk
 * when it is acknowledged and survives a kill -9 or power loss. Inserts that arrive together are
 * committed together (group commit: one transaction and one fsync for the batch), which is how
 * durable commits reach thousands per second. `secure_delete` overwrites revoked ciphertext in
 * the file, and revoke checkpoints the WAL so no old copy lingers there.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { SidekeyError } from '../errors.js';
import type { KeyRef, RevokeOutcome, SecretStore, VersionMeta, VersionRow } from './secret-store.js';

export const SQLITE_FILE_MODE = 0o600;
export const SQLITE_DIR_MODE = 0o700;
/** How long a writer waits for another process's lock before failing, in milliseconds. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000;
/** Most inserts committed in one transaction. */
export const MAX_GROUP_COMMIT_ROWS = 512;
/** The schema version this code writes (stored in `PRAGMA user_version`). */
export const SQLITE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS secret_versions (
  app TEXT NOT NULL,
  name TEXT NOT NULL,
  serial INTEGER NOT NULL CHECK (serial > 0),
  active INTEGER NOT NULL CHECK (active IN (0, 1)),
  encrypted_data BLOB,
  encrypted_data_key BLOB,
  created_at TEXT NOT NULL,
  created_by TEXT NOT NULL,
  revoked_at TEXT,
  revoked_by TEXT,
  PRIMARY KEY (app, name, serial)
) WITHOUT ROWID;
`;

interface Row {
  app: string;
  name: string;
  serial: number;
  active: number;
  encrypted_data: Buffer | null;
  encrypted_data_key: Buffer | null;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  revoked_by: string | null;
}

function meta(row: Row): VersionMeta {
  return {
    serial: row.serial,
    active: row.active === 1,
    createdAt: row.created_at,
    createdBy: row.created_by,
    ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}),
    ...(row.revoked_by ? { revokedBy: row.revoked_by } : {}),
  };
}

function toVersion(row: Row): VersionRow {
  return { ...meta(row), app: row.app, name: row.name, data: row.encrypted_data, dataKey: row.encrypted_data_key };
}

interface Pending {
  readonly row: VersionRow;
  readonly resolve: (inserted: boolean) => void;
  readonly reject: (error: unknown) => void;
}

function prepareStatements(db: Database.Database) {
  return {
    latestSerial: db.prepare<[string, string], { serial: number | null }>(
      'SELECT MAX(serial) AS serial FROM secret_versions WHERE app = ? AND name = ?',
    ),
    insert: db.prepare(
      `INSERT INTO secret_versions (app, name, serial, active, encrypted_data, encrypted_data_key, created_at, created_by)
         VALUES (@app, @name, @serial, @active, @data, @dataKey, @createdAt, @createdBy) ON CONFLICT DO NOTHING`,
    ),
    get: db.prepare<[string, string, number], Row>('SELECT * FROM secret_versions WHERE app = ? AND name = ? AND serial = ?'),
    latestActive: db.prepare<[string, string], Row>(
      'SELECT * FROM secret_versions WHERE app = ? AND name = ? AND active = 1 ORDER BY serial DESC LIMIT 1',
    ),
    history: db.prepare<[string, string], Row>(
      'SELECT app, name, serial, active, created_at, created_by, revoked_at, revoked_by FROM secret_versions WHERE app = ? AND name = ? ORDER BY serial DESC',
    ),
    names: db.prepare<[string], { name: string }>('SELECT DISTINCT name FROM secret_versions WHERE app = ? ORDER BY name'),
    revoke: db.prepare(
      `UPDATE secret_versions SET active = 0, encrypted_data = NULL, encrypted_data_key = NULL, revoked_at = ?, revoked_by = ?
         WHERE app = ? AND name = ? AND serial = ? AND active = 1`,
    ),
    exists: db.prepare<[string, string, number], { active: number }>(
      'SELECT active FROM secret_versions WHERE app = ? AND name = ? AND serial = ?',
    ),
    deleteAll: db.prepare('DELETE FROM secret_versions WHERE app = ? AND name = ?'),
    keys: db.prepare<[], { app: string; name: string; serial: number; encrypted_data_key: Buffer }>(
      'SELECT app, name, serial, encrypted_data_key FROM secret_versions WHERE encrypted_data_key IS NOT NULL ORDER BY app, name, serial',
    ),
    // Moves on whenever another connection (another process: the CLI, a second daemon) commits.
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    replaceKey: db.prepare(
      'UPDATE secret_versions SET encrypted_data_key = ? WHERE app = ? AND name = ? AND serial = ? AND encrypted_data_key = ?',
    ),
  };
}
type Statements = ReturnType<typeof prepareStatements>;

/** How stale a cached value may be after another process wrote (a CLI revoke), in milliseconds. */
export const DATA_VERSION_CHECK_MS = 20;

export class SqliteStore implements SecretStore {
  readonly kind = 'sqlite' as const;
  readonly #path: string;
  #db: Database.Database | undefined;
  #statements: Statements | undefined;
  #pending: Pending[] = [];
  #dataVersion: number | undefined;
  #nextVersionCheck = 0;
  #flushScheduled = false;

  constructor(path: string) {
    this.#path = path;
  }

  #open(): Database.Database {
    if (this.#db) return this.#db;
    mkdirSync(dirname(this.#path), { recursive: true, mode: SQLITE_DIR_MODE });
    try {
      // Create the file ourselves so it is 0600 from its first byte.
      closeSync(openSync(this.#path, 'a', SQLITE_FILE_MODE));
      const db = new Database(this.#path, { timeout: SQLITE_BUSY_TIMEOUT_MS });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('secure_delete = ON');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
      for (const suffix of ['-wal', '-shm']) {
        try {
          chmodSync(`${this.#path}${suffix}`, SQLITE_FILE_MODE);
        } catch {
          // Not created yet.
        }
      }
      this.#db = db;
      this.#statements = prepareStatements(db);
      return db;
    } catch (error) {
      throw new SidekeyError('STORE_FAILED', `cannot open SQLite store ${this.#path} (${(error as Error).message})`, { cause: error });
    }
  }

  get #s(): Statements {
    this.#open();
    return this.#statements as Statements;
  }

  #run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof SidekeyError) throw error;
      throw new SidekeyError('STORE_FAILED', `SQLite ${what} failed (${(error as { code?: string }).code ?? (error as Error).message})`, {
        cause: error,
      });
    }
  }

  async setup(): Promise<void> {
    this.#open();
  }

  async open(_app: string): Promise<void> {
    this.#open();
    this.writtenElsewhere();
  }

  /**
   * True when another connection committed since the last look. The PRAGMA on every cached fetch
   * would cost a large share of it (docs/secrets.md has the numbers), so it is asked at most every
   * DATA_VERSION_CHECK_MS.
   */
  writtenElsewhere(): boolean {
    const now = performance.now();
    if (now < this.#nextVersionCheck) return false;
    this.#nextVersionCheck = now + DATA_VERSION_CHECK_MS;
    const version = this.#s.dataVersion.get() as number;
    const changed = this.#dataVersion !== undefined && version !== this.#dataVersion;
    this.#dataVersion = version;
    return changed;
  }

  async latestSerial(app: string, name: string): Promise<number> {
    return this.#run('read', () => this.#s.latestSerial.get(app, name)?.serial ?? 0);
  }

  insert(row: VersionRow): Promise<boolean> {
    this.#open();
    return new Promise((resolve, reject) => {
      this.#pending.push({ row, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Commits every queued insert in one transaction; each caller learns whether its row went in. */
  #flush(): void {
    this.#flushScheduled = false;
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_GROUP_COMMIT_ROWS);
      const db = this.#open();
      let results: boolean[];
      try {
        results = db.transaction(() =>
          batch.map(
            ({ row }) => this.#s.insert.run({ ...row, active: row.active ? 1 : 0, data: row.data, dataKey: row.dataKey }).changes === 1,
          ),
        )();
      } catch (error) {
        const failure = new SidekeyError(
          'STORE_FAILED',
          `SQLite insert failed (${(error as { code?: string }).code ?? (error as Error).message})`,
          {
            cause: error,
          },
        );
        for (const p of batch) p.reject(failure);
        continue;
      }
      for (const [i, p] of batch.entries()) p.resolve(results[i] as boolean);
    }
  }

  async get(app: string, name: string, serial: number): Promise<VersionRow | undefined> {
    return this.#run('read', () => {
      const row = this.#s.get.get(app, name, serial);
      return row ? toVersion(row) : undefined;
    });
  }

  async latestActive(app: string, name: string): Promise<VersionRow | undefined> {
    return this.#run('read', () => {
      const row = this.#s.latestActive.get(app, name);
      return row ? toVersion(row) : undefined;
    });
  }

  async history(app: string, name: string): Promise<VersionMeta[]> {
    return this.#run('read', () => this.#s.history.all(app, name).map(meta));
  }

  async listNames(app: string): Promise<string[]> {
    return this.#run('read', () => this.#s.names.all(app).map((r) => r.name));
  }

  async revoke(app: string, name: string, serial: number, by: string, at: string): Promise<RevokeOutcome> {
    const outcome = this.#run('revoke', (): RevokeOutcome => {
      if (this.#s.revoke.run(at, by, app, name, serial).changes === 1) return 'revoked';
      return this.#s.exists.get(app, name, serial) ? 'already-revoked' : 'missing';
    });
    if (outcome === 'revoked') this.#checkpoint();
    return outcome;
  }

  /** Moves the WAL into the main file (overwriting freed pages) and truncates it; best effort. */
  #checkpoint(): void {
    try {
      this.#open().pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A reader holds the WAL open; the next checkpoint will do it.
    }
  }

  async deleteAll(app: string, name: string): Promise<number> {
    const removed = this.#run('delete', () => this.#s.deleteAll.run(app, name).changes);
    if (removed > 0) this.#checkpoint();
    return removed;
  }

  async *scanKeys(): AsyncIterable<KeyRef> {
    const rows = this.#run('read', () => this.#s.keys.all());
    for (const row of rows) yield { app: row.app, name: row.name, serial: row.serial, dataKey: row.encrypted_data_key };
  }

  async replaceDataKey(ref: KeyRef, next: Buffer): Promise<boolean> {
    return this.#run('rewrap', () => this.#s.replaceKey.run(next, ref.app, ref.name, ref.serial, ref.dataKey).changes === 1);
  }

  async close(): Promise<void> {
    this.#flush();
    this.#db?.close();
    this.#db = undefined;
    this.#statements = undefined;
  }
}

/**
 * What a storage engine provides: rows of encrypted versions, keyed by (application, name,
 * serial). Engines never see plaintext and never allocate serials by read-then-write: `insert`
 * fails (returns false) when the serial is taken, and the service retries with the next one.
 */

export interface VersionMeta {
  readonly serial: number;
  readonly active: boolean;
  /** ISO 8601 instant. */
  readonly createdAt: string;
  readonly createdBy: string;
  readonly revokedAt?: string;
  readonly revokedBy?: string;
}

export interface VersionRow extends VersionMeta {
  readonly app: string;
  readonly name: string;
  /** The payload envelope; null once revoked (destroyed). */
  readonly data: Buffer | null;
  /** The wrapped data key envelope; null once revoked (destroyed). */
  readonly dataKey: Buffer | null;
}

export type RevokeOutcome = 'revoked' | 'already-revoked' | 'missing';

export interface KeyRef {
  readonly app: string;
  readonly name: string;
  readonly serial: number;
  readonly dataKey: Buffer;
}

export interface SecretStore {
  readonly kind: 'sqlite' | 'dynamodb' | 'ecs-secrets';
  /** Creates the schema or table; safe to run again. Only `secrets setup` calls it. */
  setup(): Promise<void>;
  /**
   * Checks the store is there for a daemon to serve `app` from, with the reads its role allows,
   * creating no table (the embedded SQLite file is the exception: it is local and needs no IAM).
   */
  open(app: string): Promise<void>;
  /**
   * True when another process wrote to the store since the last call, so cached values may be
   * stale (a revoke from the CLI). Synchronous and cheap, for the cached-fetch path; a store
   * that cannot tell cheaply has none, and its writes from elsewhere are seen within the TTL.
   */
  writtenElsewhere?(): boolean;
  /**
   * For a store that cannot tell cheaply (DynamoDB): whether a cached version is still what a fetch
   * would answer (active, and for `latest` still the highest active serial), by one consistent
   * read and no decryption, asked before every cached answer.
   */
  stillCurrent?(app: string, name: string, serial: number, latest: boolean): Promise<boolean>;
  /** The highest serial of a name (active or not), 0 when it has none. */
  latestSerial(app: string, name: string): Promise<number>;
  /** Writes a new version (active, or an imported revoked one without ciphertext); false when its serial already exists (another writer won). */
  insert(row: VersionRow): Promise<boolean>;
  get(app: string, name: string, serial: number): Promise<VersionRow | undefined>;
  /** The highest-serial active version. */
  latestActive(app: string, name: string): Promise<VersionRow | undefined>;
  /** Every version's metadata, newest first. */
  history(app: string, name: string): Promise<VersionMeta[]>;
  /** Names with at least one version, sorted. */
  listNames(app: string): Promise<string[]>;
  /** Marks a version inactive and destroys its ciphertext and wrapped key, in one write. */
  revoke(app: string, name: string, serial: number, by: string, at: string): Promise<RevokeOutcome>;
  /** Removes every version of a name; returns how many there were. */
  deleteAll(app: string, name: string): Promise<number>;
  /** Every wrapped data key still present (for rewrap), across applications. */
  scanKeys(): AsyncIterable<KeyRef>;
  /** Replaces a wrapped data key if it is still `previous`; false when it changed meanwhile. */
  replaceDataKey(ref: KeyRef, next: Buffer): Promise<boolean>;
  close(): Promise<void>;
}

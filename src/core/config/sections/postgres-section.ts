/**
 * The Postgres IAM proxy's part of the config (docs/postgres.md documents every
 * key). Beyond rds-auth-proxy's keys: `client_auth`, `client_tls`, `users`, `via_tls`, `pool`, `max_logins_per_second` per
 * target, and `keepalive_seconds` for the whole section.
 */

import { DEFAULT_IAM_LOGINS_PER_SECOND, MAX_LOGINS_PER_SECOND } from '../../pg/pg-limits.js';
import { isLoopback, listenAddress } from '../listen-address.js';
import { obj, record, section } from '../mapping-schemas.js';
import { anyOf, arr, filePath, type Infer, int, oneOf, optional, str, withDefault } from '../schema.js';
import { MAX_NAME_LENGTH, NAME_EXPECTED, name, region } from '../validators.js';

export const DEFAULT_PG_PORT = 5432;
/** The most client connections one target accepts at once. */
export const DEFAULT_PG_MAX_CONNECTIONS = 100;
/** Idle time before the first TCP keepalive probe on every proxied socket. */
export const DEFAULT_PG_KEEPALIVE_SECONDS = 60;
/**
 * Parked (idle) upstream connections per target for session pooling. pgbouncer's session mode
 * keeps up to default_pool_size = 20 server connections per (database, user); a per-target
 * proxy on a laptop or beside one app needs fewer, and every parked connection holds a backend
 * slot on the database, so 10. 0 turns pooling off.
 */
export const DEFAULT_PG_POOL_MAX_IDLE = 10;
/** Seconds a parked connection waits for a client before it is closed (pgbouncer: server_idle_timeout = 600). */
export const DEFAULT_PG_POOL_IDLE_SECONDS = 300;
/** PostgreSQL's own limit for identifiers such as user and database names (NAMEDATALEN - 1). */
const MAX_PG_IDENTIFIER = 63;

const TLS_MODES = ['verify-full', 'verify-ca', 'require', 'disable'] as const;
export type PgTlsMode = (typeof TLS_MODES)[number];

const tlsUpstream = obj({
  mode: withDefault(oneOf(TLS_MODES), 'verify-full'),
  ca_file: optional(filePath('a CA bundle (PEM), such as the RDS global bundle')),
});
export type PgTlsConfig = Infer<typeof tlsUpstream>;

const tlsServer = obj({ cert_file: filePath('a certificate chain (PEM)'), key_file: filePath('a private key (PEM)') });
export type PgServerTlsConfig = Infer<typeof tlsServer>;

const passwordAuth = obj({ password: str({ secret: true, min: 1, max: 1024, expected: 'the database password' }) });
const localPassword = obj({ password: str({ secret: true, min: 8, max: 1024, expected: 'a password of at least 8 characters' }) });
const pgIdentifier = (expected: string) => str({ min: 1, max: MAX_PG_IDENTIFIER, expected });

export const pgTargetSchema = obj(
  {
    host: str({ min: 1, max: 253, expected: 'the database host name' }),
    port: withDefault(int({ min: 1, max: 65535 }), DEFAULT_PG_PORT),
    region: optional(region()),
    database: optional(pgIdentifier('a database name')),
    user: pgIdentifier('the database user to log in as'),
    /** Local user name (as the client sends it) -> DB user; when set, other local users are refused. */
    users: optional(record(pgIdentifier('a database user'), { key: { pattern: /^[^\0]{1,63}$/, expected: 'a local user name' } })),
    auth: withDefault(anyOf('iam, or { password: ... }', oneOf(['iam'] as const), passwordAuth), 'iam' as const),
    service: optional(name()),
    tls: section(tlsUpstream),
    listen: optional(listenAddress()),
    /** How local clients authenticate to the listener: trust (loopback only) or SCRAM-SHA-256. */
    client_auth: withDefault(anyOf('trust, or { password: ... }', oneOf(['trust'] as const), localPassword), 'trust' as const),
    /** Offer TLS to local clients (answer SSLRequest with S). */
    client_tls: optional(tlsServer),
    via: optional(str({ min: 3, max: 260, pattern: /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/, expected: 'a server proxy address HOST:PORT' })),
    /** TLS to the server proxy named by `via` (the target's `tls` is then the server proxy's business). */
    via_tls: section(tlsUpstream),
    max_connections: withDefault(int({ min: 1, max: 100_000 }), DEFAULT_PG_MAX_CONNECTIONS),
    /**
     * New upstream logins per second (pool hits do not count); logins beyond wait their turn up to
     * LOGIN_PACE_MAX_WAIT_MS, then 53300. Default: DEFAULT_IAM_LOGINS_PER_SECOND for auth: iam,
     * unpaced for password targets (loginsPerSecond).
     */
    max_logins_per_second: optional(int({ min: 1, max: MAX_LOGINS_PER_SECOND })),
    /** Session pooling of upstream connections (client mode; a server proxy never pools). */
    pool: section(
      obj({
        max_idle: withDefault(int({ min: 0, max: 10_000 }), DEFAULT_PG_POOL_MAX_IDLE),
        idle_seconds: withDefault(int({ min: 1, max: 86_400, unit: 'seconds' }), DEFAULT_PG_POOL_IDLE_SECONDS),
      }),
    ),
  },
  { rules: targetRules },
);
export type PgTargetConfig = Infer<typeof pgTargetSchema>;

/** The target's login pace: its own setting, else DEFAULT_IAM_LOGINS_PER_SECOND for IAM and none for passwords. */
export function loginsPerSecond(target: PgTargetConfig): number | undefined {
  return target.max_logins_per_second ?? (target.auth === 'iam' ? DEFAULT_IAM_LOGINS_PER_SECOND : undefined);
}

function targetRules(v: Record<string, unknown>): { path?: string; message: string }[] {
  const t = v as unknown as PgTargetConfig;
  const problems: { path?: string; message: string }[] = [];
  if (t.listen && !isLoopback(t.listen) && t.client_auth === 'trust') {
    problems.push({
      path: 'client_auth',
      message: 'listen is not a loopback address: set client_auth: { password: ... } (and client_tls) so remote clients must authenticate',
    });
  }
  if (t.auth === 'iam' && t.via === undefined && t.tls.mode === 'disable') {
    problems.push({
      path: 'tls.mode',
      message: 'cannot specify auth: iam and tls.mode: disable together: an IAM token travels only over TLS',
    });
  }
  if (t.via !== undefined && t.via_tls.mode === 'disable') {
    problems.push({
      path: 'via_tls.mode',
      message: 'cannot specify via and via_tls.mode: disable together: tokens travel to the server proxy only over TLS',
    });
  }
  return problems;
}

export const postgresSchema = obj(
  {
    targets: withDefault(
      record(pgTargetSchema, { key: { pattern: /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, expected: NAME_EXPECTED, max: MAX_NAME_LENGTH } }),
      {},
    ),
    server: optional(
      obj({
        listen: listenAddress(),
        tls: tlsServer,
        allow: arr(name(), { min: 1, max: 1000 }),
      }),
    ),
    keepalive_seconds: withDefault(int({ min: 1, max: 7200, unit: 'seconds' }), DEFAULT_PG_KEEPALIVE_SECONDS),
  },
  { rules: serverRules },
);

/** A server proxy lends a target's stored password only to a client that proved the target's client_auth password. */
function serverRules(v: Record<string, unknown>): { path?: string; message: string }[] {
  const targets = v.targets as Readonly<Record<string, PgTargetConfig>>;
  const server = v.server as { allow: readonly string[] } | undefined;
  const problems: { path?: string; message: string }[] = [];
  server?.allow.forEach((name, i) => {
    // A missing target is reported by the cross-section rules.
    const target = Object.hasOwn(targets, name) ? targets[name] : undefined;
    if (target !== undefined && target.auth !== 'iam' && target.client_auth === 'trust') {
      problems.push({
        path: `server.allow[${i}]`,
        message: `target "${name}" logs in with a stored password: set postgres.targets.${name}.client_auth: { password: ... } so every client of the server proxy must prove it first (the client proxy's target sets the same password as auth)`,
      });
    }
  });
  return problems;
}
export type PostgresConfig = Infer<typeof postgresSchema>;

/**
 * Client (direct) mode: a local listener for one target. The local client is trusted (loopback)
 * or proves the configured password with SCRAM; the proxy then logs in upstream as the target's
 * DB user with a fresh (cached) IAM token, or the configured password: directly to the database
 * over verified TLS, or through a server proxy, passing the target name and token as extra
 * StartupMessage parameters over TLS.
 */
import { isLoopback } from '../core/config/listen-address.js';
import type { IamTokenCache } from '../core/pg/iam-token-cache.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import type { FrameSocket } from './frame-socket.js';
import { scramAuthenticate } from './local-auth.js';
import type { PgTarget } from './pg-target.js';
import { isForwarded, TARGET_PARAM, TOKEN_PARAM, upstreamParams } from './session-params.js';
import type { SessionPlan, SessionPolicy, StartupInfo } from './session-policy.js';
import type { UpstreamLoginRequest } from './upstream-login.js';
import type { PoolSlot } from './upstream-pool.js';

/** Signs (or takes from the cache) the IAM token for a target's DB user. */
export async function iamToken(target: PgTarget, dbUser: string, tokens: IamTokenCache): Promise<string> {
  try {
    return await tokens.token({
      target: target.name,
      hostname: target.config.host,
      port: target.config.port,
      user: dbUser,
      region: target.region as string,
      credentials: target.credentials,
    });
  } catch (error) {
    const source = target.config.service
      ? `service ${target.config.service}`
      : "the daemon's base credentials (aws_defaults or the AWS chain)";
    throw new PgPeerError(
      'PG_AUTH_REFUSED',
      `cannot sign an IAM token for target "${target.name}": no usable AWS credentials from ${source}`,
      {
        hint: 'sidekey validate and the daemon log say which credential source failed',
        cause: error,
      },
    );
  }
}

/**
 * The pool key of a session: a parked connection is only handed to a session that would have
 * made exactly the same login (same target and signing identity, same upstream, DB user,
 * database and startup parameters such as application_name or client_encoding). The key is the
 * login's fixed part (per DB user, made once) followed by the database and each forwarded
 * parameter as JSON strings, which delimit themselves: two different logins never share a key.
 */
function poolKeyPrefix(target: PgTarget, dbUser: string): string {
  const config = target.config;
  const identity = config.auth === 'iam' ? `iam:${config.service ?? 'base'}` : 'password';
  const upstream = target.via ? `via:${target.via.host}:${target.via.port}` : `db:${target.database.host}:${target.database.port}`;
  return JSON.stringify([target.name, identity, upstream, dbUser]);
}

function poolKey(prefix: string, database: string, params: ReadonlyMap<string, string>): string {
  let key = `${prefix}${JSON.stringify(database)}`;
  for (const [name, value] of params) if (isForwarded(name)) key += `,${JSON.stringify(name)},${JSON.stringify(value)}`;
  return key;
}

export function clientPolicy(target: PgTarget, tokens: IamTokenCache): SessionPolicy {
  const config = target.config;
  const limits = { maxIdle: config.pool.max_idle, idleMs: config.pool.idle_seconds * 1000 };
  /** Pool key prefixes by DB user (the target's user, or one of its `users`): made once each. */
  const prefixes = new Map<string, string>();

  function makePlan(startup: StartupInfo, localUser: string, dbUser: string): SessionPlan {
    const database = config.database ?? startup.params.get('database') ?? dbUser;
    let pool: PoolSlot | undefined;
    if (limits.maxIdle > 0) {
      let prefix = prefixes.get(dbUser);
      if (prefix === undefined) {
        prefix = poolKeyPrefix(target, dbUser);
        prefixes.set(dbUser, prefix);
      }
      pool = { target: target.name, key: poolKey(prefix, database, startup.params), limits };
    }
    return {
      target: target.name,
      localUser,
      dbUser,
      maxConnections: config.max_connections,
      ...(pool ? { pool } : {}),
      ...(target.logins ? { logins: target.logins } : {}),
      async upstream(): Promise<UpstreamLoginRequest> {
        if (target.via) {
          // To an IAM target the token is the proof; to a password target the server proxy asks
          // for the password (its client_auth) by SCRAM, and logs in upstream with its own.
          if (config.auth !== 'iam') {
            return {
              endpoint: target.via,
              user: dbUser,
              params: upstreamParams(startup.params, dbUser, database, [[TARGET_PARAM, target.name]]),
              secret: { kind: 'password', password: config.auth.password },
            };
          }
          const token = await iamToken(target, dbUser, tokens);
          return {
            endpoint: target.via,
            user: dbUser,
            params: upstreamParams(startup.params, dbUser, database, [
              [TARGET_PARAM, target.name],
              [TOKEN_PARAM, token],
            ]),
            secret: { kind: 'none' },
          };
        }
        const secret =
          config.auth === 'iam'
            ? ({ kind: 'iam-token', token: await iamToken(target, dbUser, tokens) } as const)
            : ({ kind: 'password', password: config.auth.password } as const);
        return { endpoint: target.database, user: dbUser, params: upstreamParams(startup.params, dbUser, database), secret };
      },
    };
  }

  return {
    mode: 'client',
    tls: target.clientTls,
    // Beyond loopback a listener with client_tls takes TLS only (hostssl): its sessions cross the network.
    requireTls: target.clientTls !== undefined && config.listen !== undefined && !isLoopback(config.listen),
    authenticatesClient: target.clientVerifier !== undefined,
    // Synchronous for a trusted client (the common local case): no promise per connection.
    plan(startup: StartupInfo, frames: FrameSocket): SessionPlan | Promise<SessionPlan> {
      const localUser = startup.params.get('user') as string;
      // Own keys only: a plain object also answers "constructor", "toString" or "__proto__".
      const users = config.users;
      const dbUser = users ? (Object.hasOwn(users, localUser) ? users[localUser] : undefined) : config.user;
      if (dbUser === undefined) {
        throw new PgPeerError('PG_AUTH_REFUSED', `local user "${localUser}" may not use target "${target.name}"`, {
          hint: `connect as one of the users under postgres.targets.${target.name}.users`,
        });
      }
      const verifier = target.clientVerifier;
      if (!verifier) return makePlan(startup, localUser, dbUser);
      return scramAuthenticate(frames, verifier, localUser).then(() => makePlan(startup, localUser, dbUser));
    },
  };
}

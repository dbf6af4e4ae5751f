/**
 * Client (direct) mode: a local listener for one target. The local client is trusted (loopback)
 * or proves the configured password with SCRAM; the proxy then logs in upstream as the target's
 * DB user with a fresh (cached) IAM token, or the configured password: directly to the database
 * over verified TLS, or through a server proxy, passing the target name and token as extra
 * StartupMessage parameters over TLS.
 */
import type { IamTokenCache } from '../core/pg/iam-token-cache.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { SqlState } from '../core/pg/sql-state.js';
import type { FrameSocket } from './frame-socket.js';
import { scramAuthenticate } from './local-auth.js';
import type { PgTarget } from './pg-target.js';
import type { SessionPlan, SessionPolicy, StartupInfo } from './proxy-session.js';
import { TARGET_PARAM, TOKEN_PARAM, upstreamParams } from './session-params.js';
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
      SqlState.INVALID_AUTHORIZATION,
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
 * database and startup parameters such as application_name or client_encoding).
 */
function poolSlot(target: PgTarget, dbUser: string, params: ReadonlyArray<readonly [string, string]>): PoolSlot {
  const config = target.config;
  const identity = config.auth === 'iam' ? `iam:${config.service ?? 'base'}` : 'password';
  const upstream = target.via ? `via:${target.via.host}:${target.via.port}` : `db:${target.database.host}:${target.database.port}`;
  return {
    target: target.name,
    key: JSON.stringify([target.name, identity, upstream, dbUser, params]),
    limits: { maxIdle: config.pool.max_idle, idleMs: config.pool.idle_seconds * 1000 },
  };
}

export function clientPolicy(target: PgTarget, tokens: IamTokenCache): SessionPolicy {
  const config = target.config;
  return {
    mode: 'client',
    tls: target.clientTls,
    requireTls: false,
    async plan(startup: StartupInfo, frames: FrameSocket): Promise<SessionPlan> {
      const localUser = startup.params.get('user') as string;
      const dbUser = config.users ? config.users[localUser] : config.user;
      if (dbUser === undefined) {
        throw new PgPeerError(SqlState.INVALID_AUTHORIZATION, `local user "${localUser}" may not use target "${target.name}"`, {
          hint: `connect as one of the users under postgres.targets.${target.name}.users`,
        });
      }
      if (target.clientVerifier) await scramAuthenticate(frames, target.clientVerifier, localUser);
      const database = config.database ?? startup.params.get('database') ?? dbUser;
      return {
        target: target.name,
        localUser,
        dbUser,
        maxConnections: config.max_connections,
        ...(config.pool.max_idle > 0 ? { pool: poolSlot(target, dbUser, upstreamParams(startup.params, dbUser, database)) } : {}),
        async upstream(): Promise<UpstreamLoginRequest> {
          if (target.via) {
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
    },
  };
}

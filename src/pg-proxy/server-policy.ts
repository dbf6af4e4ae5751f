/**
 * Server mode: a TLS-only listener (in the VPC) for client proxies. A session names its target
 * in `sidekey_target`; only targets on `postgres.server.allow` are reachable, and only as one of
 * the target's configured DB users, so the server proxy is never an open relay. For IAM targets
 * the client proxy's token (`sidekey_token`, signed with the user's own identity) is passed on,
 * after checking it was signed for this target's host and port; the database verifies it.
 */
import type { SecureContext } from 'node:tls';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { SqlState } from '../core/pg/sql-state.js';
import { allowedDbUsers, type PgTarget } from './pg-target.js';
import { TARGET_PARAM, TOKEN_PARAM, upstreamParams } from './session-params.js';
import type { SessionPlan, SessionPolicy, StartupInfo } from './session-policy.js';
import type { UpstreamLoginRequest } from './upstream-login.js';

/** The host:port an RDS token was signed for (a token is a presigned URL without its scheme). */
function tokenHost(token: string): string | undefined {
  try {
    return new URL(`https://${token}`).host;
  } catch {
    return undefined;
  }
}

export function serverPolicy(targets: ReadonlyMap<string, PgTarget>, allow: ReadonlySet<string>, tls: SecureContext): SessionPolicy {
  return {
    mode: 'server',
    tls,
    requireTls: true,
    // The client proxy proves nothing interactively here: the token travels in the startup packet.
    authenticatesClient: false,
    async plan(startup: StartupInfo): Promise<SessionPlan> {
      const name = startup.params.get(TARGET_PARAM);
      if (name === undefined) {
        throw new PgPeerError(SqlState.INVALID_AUTHORIZATION, `no ${TARGET_PARAM} in the startup packet: this is a sidekey server proxy`, {
          hint: 'connect through a sidekey client proxy whose target sets via: to this address',
        });
      }
      const target = allow.has(name) ? targets.get(name) : undefined;
      if (!target) {
        throw new PgPeerError(SqlState.INVALID_AUTHORIZATION, `target "${name.slice(0, 63)}" is not allowed on this server proxy`, {
          hint: 'add it to postgres.server.allow (and postgres.targets) in the server proxy config',
        });
      }
      const config = target.config;
      const dbUser = startup.params.get('user') as string;
      if (!allowedDbUsers(config).has(dbUser)) {
        throw new PgPeerError(
          SqlState.INVALID_AUTHORIZATION,
          `DB user "${dbUser}" is not configured for target "${name}" on this server proxy`,
          {
            hint: `set postgres.targets.${name}.user (or users) on the server proxy`,
          },
        );
      }
      let secret: UpstreamLoginRequest['secret'];
      if (config.auth === 'iam') {
        const token = startup.params.get(TOKEN_PARAM);
        if (!token) {
          throw new PgPeerError(SqlState.INVALID_AUTHORIZATION, `no IAM token (${TOKEN_PARAM}) for target "${name}"`, {
            hint: 'the client proxy signs one when its target has auth: iam',
          });
        }
        const expected = `${config.host}:${config.port}`;
        if (tokenHost(token) !== expected) {
          throw new PgPeerError(SqlState.INVALID_AUTHORIZATION, `the IAM token was not signed for target "${name}" (${expected})`, {
            hint: `the client proxy's postgres.targets.${name}.host and port must match the server proxy's`,
          });
        }
        secret = { kind: 'iam-token', token };
      } else {
        secret = { kind: 'password', password: config.auth.password };
      }
      const database = startup.params.get('database') ?? dbUser;
      return {
        target: name,
        localUser: dbUser,
        dbUser,
        maxConnections: config.max_connections,
        ...(target.logins ? { logins: target.logins } : {}),
        upstream: async () => ({
          endpoint: target.database,
          user: dbUser,
          params: upstreamParams(startup.params, dbUser, database),
          secret,
        }),
      };
    },
  };
}

/**
 * Server mode: a TLS-only listener (in the VPC) for client proxies. A session names its target
 * in `sidekey_target`; only targets on `postgres.server.allow` are reachable, only as one of the
 * target's configured DB users and, when the target sets `database`, only in that database, so
 * the server proxy is never an open relay. Every client authenticates:
 * - to a target with `client_auth: { password }`, by SCRAM-SHA-256 here first;
 * - to an IAM target, with the client proxy's token (`sidekey_token`, signed with the user's own
 *   identity), checked here as far as it can be without AWS (signed to connect as this DB user to
 *   this host and port, not expired) and then verified by the database itself.
 * A target that logs in with a stored password must have client_auth (config validation refuses it
 * otherwise, and so does plan()): the stored password is never lent to a client that proved nothing.
 */
import type { SecureContext } from 'node:tls';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import type { FrameSocket } from './frame-socket.js';
import { scramAuthenticate } from './local-auth.js';
import { allowedDbUsers, type PgTarget } from './pg-target.js';
import { TARGET_PARAM, TOKEN_PARAM, upstreamParams } from './session-params.js';
import type { SessionPlan, SessionPolicy, StartupInfo } from './session-policy.js';
import type { UpstreamLoginRequest } from './upstream-login.js';

/**
 * Why an RDS IAM token (a presigned URL without its scheme) cannot be for `user` at `host:port`
 * now, or undefined when it may be. Its signature only the database can check.
 */
export function iamTokenProblem(token: string, host: string, port: number, user: string, now = Date.now()): string | undefined {
  let url: URL;
  try {
    url = new URL(`https://${token}`);
  } catch {
    return 'it is not an RDS IAM token';
  }
  if (url.host !== `${host}:${port}`) return `it was signed for another host (this target is ${host}:${port})`;
  const query = url.searchParams;
  if (query.get('Action') !== 'connect') return 'it is not an rds-db connect token';
  if (query.get('DBUser') !== user) return `it was signed for another DB user than "${user}"`;
  const signed = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query.get('X-Amz-Date') ?? '');
  const expires = Number(query.get('X-Amz-Expires'));
  if (!signed || !Number.isSafeInteger(expires) || expires <= 0) return 'it has no valid X-Amz-Date and X-Amz-Expires';
  const [year, month, day, hour, minute, second] = signed.slice(1).map(Number) as [number, number, number, number, number, number];
  const at = Date.UTC(year, month - 1, day, hour, minute, second);
  if (at + expires * 1000 <= now) return 'it has expired';
  return undefined;
}

export function serverPolicy(targets: ReadonlyMap<string, PgTarget>, allow: ReadonlySet<string>, tls: SecureContext): SessionPolicy {
  return {
    mode: 'server',
    tls,
    requireTls: true,
    // An IAM client proves itself with the token in the startup packet; a password target's by SCRAM.
    authenticatesClient: [...allow].some((name) => targets.get(name)?.clientVerifier !== undefined),
    async plan(startup: StartupInfo, frames: FrameSocket): Promise<SessionPlan> {
      const name = startup.params.get(TARGET_PARAM);
      if (name === undefined) {
        throw new PgPeerError('PG_AUTH_REFUSED', `no ${TARGET_PARAM} in the startup packet: this is a sidekey server proxy`, {
          hint: 'connect through a sidekey client proxy whose target sets via: to this address',
        });
      }
      const target = allow.has(name) ? targets.get(name) : undefined;
      if (!target) {
        throw new PgPeerError('PG_AUTH_REFUSED', `target "${name.slice(0, 63)}" is not allowed on this server proxy`, {
          hint: 'add it to postgres.server.allow (and postgres.targets) in the server proxy config',
        });
      }
      const config = target.config;
      const dbUser = startup.params.get('user') as string;
      if (!allowedDbUsers(config).has(dbUser)) {
        throw new PgPeerError('PG_AUTH_REFUSED', `DB user "${dbUser}" is not configured for target "${name}" on this server proxy`, {
          hint: `set postgres.targets.${name}.user (or users) on the server proxy`,
        });
      }
      const asked = startup.params.get('database');
      if (config.database !== undefined && asked !== undefined && asked !== config.database) {
        throw new PgPeerError(
          'PG_AUTH_REFUSED',
          `database "${asked.slice(0, 63)}" is not allowed for target "${name}" on this server proxy (its database is ${config.database})`,
          { hint: `connect to database ${config.database}, or change postgres.targets.${name}.database on the server proxy` },
        );
      }
      const database = config.database ?? asked ?? dbUser;
      if (target.clientVerifier) await scramAuthenticate(frames, target.clientVerifier, dbUser);
      let secret: UpstreamLoginRequest['secret'];
      if (config.auth === 'iam') {
        const token = startup.params.get(TOKEN_PARAM);
        if (!token) {
          throw new PgPeerError('PG_AUTH_REFUSED', `no IAM token (${TOKEN_PARAM}) for target "${name}"`, {
            hint: 'the client proxy signs one when its target has auth: iam',
          });
        }
        const problem = iamTokenProblem(token, config.host, config.port, dbUser);
        if (problem) {
          throw new PgPeerError('PG_AUTH_REFUSED', `the IAM token for target "${name}" was refused: ${problem}`, {
            hint: `the client proxy's postgres.targets.${name}.host, port and user must match the server proxy's`,
          });
        }
        secret = { kind: 'iam-token', token };
      } else if (target.clientVerifier) {
        secret = { kind: 'password', password: config.auth.password };
      } else {
        // Config validation refuses this; a stored password is never lent to a client that proved nothing.
        throw new PgPeerError('PG_AUTH_REFUSED', `target "${name}" cannot be reached through this server proxy`, {
          hint: `set postgres.targets.${name}.client_auth: { password: ... } on the server proxy`,
        });
      }
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

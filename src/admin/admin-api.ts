/**
 * The incident-response API under `/admin/` on the admin listener, for `sidekey admin`:
 *
 *   GET  /admin/services                     what each service holds (expiry, last refresh, last error)
 *   GET  /admin/services/NAME
 *   POST /admin/services/NAME/disable        stop vending at once and purge cached credentials
 *   POST /admin/services/NAME/enable
 *   POST /admin/services/NAME/rotate-token   a new random token, returned once
 *
 * Every call needs `Authorization: Bearer <admin.token>`, compared in constant time; without an
 * admin token in the config the API is off (404). Each action writes one audit line; no response
 * or log line ever holds a secret except the new token in the rotate response itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoadedConfig } from '../core/config/load-config.js';
import { writePrivateFile } from '../core/config/write-private-file.js';
import type { CredentialBroker, ServiceStatus } from '../core/credentials/credential-broker.js';
import { randomToken } from '../core/crypto/random-token.js';
import { secretEquals } from '../core/crypto/secret-equal.js';
import { type ErrorKind, isSidekeyError } from '../core/errors.js';
import { audit } from '../core/log/audit.js';
import { type Logger, serializeError } from '../core/log/logger.js';
import { errorAnswer } from '../net/error-reply.js';
import { sendJson } from '../net/json-reply.js';
import { readBody } from '../net/read-body.js';
import { forwardingHeader } from '../net/request-guards.js';
import { tokenFileOf } from './token-file-of.js';

/** Admin calls carry no body; anything larger than this is refused. */
export const ADMIN_MAX_BODY_BYTES = 1024; // 1 KiB
export const ADMIN_PREFIX = '/admin/';

export interface AdminApiContext {
  /** The running config (changes on reload). */
  readonly config: () => LoadedConfig;
  readonly broker: CredentialBroker;
  readonly logger: Logger;
}

const ACTIONS = ['disable', 'enable', 'rotate-token'] as const;
type Action = (typeof ACTIONS)[number];

function statusView(s: ServiceStatus): Record<string, unknown> {
  return {
    service: s.service,
    roleArn: s.roleArn,
    enabled: s.enabled,
    ready: s.ready,
    ...(s.expiration ? { expiration: s.expiration.toISOString() } : {}),
    ...(s.lastRefresh ? { lastRefresh: s.lastRefresh.toISOString() } : {}),
    ...(s.lastError ? { lastError: s.lastError } : {}),
  };
}

/** The token of an `Authorization: Bearer TOKEN` header, or the empty string. */
export function bearer(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
  return match?.[1] ?? '';
}

export function createAdminApi(ctx: AdminApiContext) {
  const { broker, logger } = ctx;

  const rotate = (service: string): { status: number; body: Record<string, unknown> } => {
    const token = randomToken();
    const target = tokenFileOf(ctx.config(), service);
    if (target) {
      try {
        // No line ending: SDKs send a token file's content as it is (see cli/commands/token.ts).
        writePrivateFile(target.file, token);
      } catch (error) {
        logger.error({ err: serializeError(error), service, file: target.file }, 'cannot write the new token file; the old token stays');
        return errorAnswer('TOKEN_ROTATION_FAILED', `cannot write ${target.key}; the old token stays in force`);
      }
    }
    try {
      if (!broker.setToken(service, token)) return errorAnswer('NOT_FOUND', `no service named ${service}`);
    } catch (error) {
      const message = isSidekeyError(error) && error.expose ? error.message : 'the daemon refused the new token';
      return errorAnswer('TOKEN_ROTATION_FAILED', message);
    }
    return {
      status: 200,
      body: {
        service,
        token,
        persisted: target ? 'file' : 'memory',
        ...(target
          ? { file: target.file }
          : {
              warning:
                'the token lives in memory only: put it where the config reads the token, or the old one returns on reload or restart',
            }),
      },
    };
  };

  /** Answers a request under /admin/; `done` gets the status for metrics. */
  return async function handle(req: IncomingMessage, res: ServerResponse, path: string, done: (status: number) => void): Promise<void> {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      done(status);
      sendJson(res, status, body, headers);
    };
    const fail = (kind: ErrorKind, message: string, headers: Record<string, string> = {}) => {
      const answer = errorAnswer(kind, message);
      reply(answer.status, answer.body, headers);
    };
    const adminToken = ctx.config().config.admin.token;
    // Compare even when no token is configured or presented, so timing tells nothing.
    const authorized = secretEquals(bearer(req), adminToken ?? '') && adminToken !== undefined;
    if (adminToken === undefined) return fail('NOT_FOUND', 'the incident-response API is off: set admin.token in the config');
    const forwarded = forwardingHeader(req);
    if (forwarded) return fail('FORWARDED_REFUSED', `requests relayed by a proxy (${forwarded}) are refused`);
    if (!authorized) {
      audit(logger, 'admin.unauthorized', { path, method: req.method, remote: req.socket.remoteAddress });
      return fail('UNAUTHORIZED', 'send Authorization: Bearer <admin token>', { 'www-authenticate': 'Bearer' });
    }
    try {
      await readBody(req, ADMIN_MAX_BODY_BYTES);
    } catch {
      return fail('PAYLOAD_TOO_LARGE', `admin calls take no body (at most ${ADMIN_MAX_BODY_BYTES} bytes)`);
    }
    const parts = path.slice(ADMIN_PREFIX.length).split('/');
    if (parts[0] !== 'services' || parts.length > 3) return fail('NOT_FOUND', 'try /admin/services');
    let service: string | undefined;
    try {
      service = parts[1] ? decodeURIComponent(parts[1]) : undefined;
    } catch {
      return fail('BAD_REQUEST', 'the service name in the path has a malformed percent-escape');
    }
    const action = parts[2] as Action | undefined;
    if (action === undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail('METHOD_NOT_ALLOWED', 'use GET', { allow: 'GET, HEAD' });
      const all = broker.status();
      if (service === undefined) return reply(200, { services: all.map(statusView) });
      const one = all.find((s) => s.service === service);
      return one ? reply(200, statusView(one)) : fail('NOT_FOUND', `no service named ${service}`);
    }
    if (!ACTIONS.includes(action) || service === undefined) return fail('NOT_FOUND', `actions: ${ACTIONS.join(', ')}`);
    if (req.method !== 'POST') return fail('METHOD_NOT_ALLOWED', 'use POST', { allow: 'POST' });
    const fields = { service, remote: req.socket.remoteAddress };
    if (action === 'rotate-token') {
      const result = rotate(service);
      audit(logger, 'admin.rotate-token', {
        ...fields,
        outcome: result.status === 200 ? 'ok' : 'failed',
        persisted: result.body.persisted,
      });
      return reply(result.status, result.body);
    }
    const ok = action === 'disable' ? broker.disable(service) : broker.enable(service);
    audit(logger, `admin.${action}`, { ...fields, outcome: ok ? 'ok' : 'refused' });
    if (!ok) {
      const known = broker.services().includes(service);
      return known
        ? fail('CONFLICT', `service ${service} cannot be ${action}d now (enabled: false in the config keeps it off)`)
        : fail('NOT_FOUND', `no service named ${service}`);
    }
    const now = broker.status().find((s) => s.service === service);
    return reply(200, now ? statusView(now) : { service, enabled: action === 'enable' });
  };
}

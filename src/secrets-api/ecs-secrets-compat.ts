/**
 * `secrets.ecs_secrets_api`: a listener that answers exactly as the real ecs-secrets daemon does
 * (observed side by side with it; docs/secrets.md has the differences), for code and task definitions written against it:
 * prefixes `/latest/` and `/vv1/`; `POST /secrets/{name}` and `POST /revoke/{name}/{serial}` answer
 * 200 with an empty body and no Content-Type; a fetch answers its JSON and a newline, `latest` is
 * the highest serial even when revoked (`"payload":"","active":false`); every refusal is a 400
 * with an empty body; `GET /version` is `{}`; other methods 404 in Go's words; a trailing slash
 * is a 301. ecs-secrets clients send no token, so the listener acts as one configured token (its
 * role, application and names, and its id in every audit line) and may listen only on loopback or
 * a unix socket (config validation), unless `require_token` makes clients send that token; a
 * missing or wrong one is an empty 401. Unlike ecs-secrets it refuses (403, empty) a Host that does
 * not name it and a request relayed by a proxy: without a token, a page that rebinds its DNS name
 * to 127.0.0.1, or an SSRF through a local proxy, would otherwise read every secret the token may.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListenAddress } from '../core/config/listen-address.js';
import { isSidekeyError } from '../core/errors.js';
import type { Logger } from '../core/log/logger.js';
import { serializeError } from '../core/log/logger.js';
import { atoi, fetchEcsSecretsRecord, goJson } from '../core/secrets/ecs-secrets-record.js';
import { MAX_REQUEST_BODY_BYTES } from '../core/secrets/secret-limits.js';
import type { SecretService } from '../core/secrets/secret-service.js';
import { readBody } from '../net/read-body.js';
import { guardedHeaders, hostHeaderAllowed } from '../net/request-guards.js';
import { type Caller, mayTouch } from './secrets-auth.js';

/** ecs-secrets' two prefixes: `/latest/`, and `/v` + its ApiVersion "v1". */
const PREFIXES = ['/latest/', '/vv1/'] as const;

export interface EcsSecretsCompatContext {
  readonly service: SecretService;
  /** The listener's own address and the Host names it answers to (secrets.allowed_hosts). */
  readonly address: () => ListenAddress;
  readonly hosts: () => ReadonlySet<string>;
  /** The token this listener acts as. */
  readonly caller: () => Caller;
  /** Set when clients must send that token: checks a request's Authorization header (throws UNAUTHORIZED). */
  readonly authenticate?: (header: string | undefined) => void;
  readonly logger: Logger;
}

function empty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

function notFound(res: ServerResponse): void {
  const body = '404 page not found\n';
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', 'content-length': body.length });
  res.end(body);
}

export function createEcsSecretsCompatHandler(ctx: EcsSecretsCompatContext) {
  const { service, logger } = ctx;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const headers = guardedHeaders(req);
    if (headers.forwarded || !hostHeaderAllowed(headers.host, ctx.address(), ctx.hosts())) return empty(res, 403);
    if (ctx.authenticate) {
      try {
        ctx.authenticate(req.headers.authorization);
      } catch (error) {
        if (!isSidekeyError(error, 'UNAUTHORIZED')) throw error;
        res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-length': 0 });
        return void res.end();
      }
    }
    const url = req.url ?? '/';
    const path = url.split('?')[0] as string;
    const prefix = PREFIXES.find((p) => path.startsWith(p));
    if (!prefix) return notFound(res);
    if (path.length > prefix.length && path.endsWith('/')) {
      // gorilla/mux with StrictSlash: the same path without the slash.
      res.writeHead(301, { location: path.slice(0, -1), 'content-length': 0 });
      return void res.end();
    }
    const parts = path.slice(prefix.length).split('/');
    const method = req.method;
    const caller = ctx.caller();
    if (parts.length === 1 && parts[0] === 'version') return method === 'GET' ? void sendJson(res, {}) : notFound(res);
    const [kind, rawName, rawSerial] = parts;
    if (rawName === undefined || rawName === '' || parts.length > 3) return notFound(res);
    let name: string;
    try {
      name = decodeURIComponent(rawName);
    } catch {
      return empty(res, 400);
    }
    if (kind === 'secrets' && method === 'GET' && parts.length <= 3) {
      if (!mayTouch(caller, name)) return empty(res, 400);
      const found = await fetchEcsSecretsRecord(service, caller.application, name, rawSerial, caller.id);
      return found === undefined ? empty(res, 400) : sendJson(res, found);
    }
    if (kind === 'secrets' && method === 'POST' && parts.length === 2) {
      if (caller.role !== 'admin' || !mayTouch(caller, name)) return empty(res, 400);
      let body: unknown;
      try {
        body = JSON.parse((await readBody(req, MAX_REQUEST_BODY_BYTES)).toString('utf8'));
      } catch {
        return empty(res, 400);
      }
      const payload = body && typeof body === 'object' && !Array.isArray(body) ? (body as { payload?: unknown }).payload : undefined;
      if (typeof payload !== 'string') return empty(res, 400);
      try {
        await service.create(caller.application, name, payload, { actor: caller.id });
      } catch (error) {
        if (isSidekeyError(error) && error.expose) return empty(res, 400);
        throw error;
      }
      return empty(res, 200);
    }
    if (kind === 'revoke' && method === 'POST' && parts.length === 3) {
      const serial = atoi(rawSerial as string);
      if (serial === undefined || caller.role !== 'admin' || !mayTouch(caller, name)) return empty(res, 400);
      // ecs-secrets answers 200 for a serial that names nothing (it writes a phantom item; sidekey writes none).
      if (serial < 1) return empty(res, 200);
      try {
        await service.revoke(caller.application, name, serial, caller.id);
      } catch (error) {
        // ecs-secrets answers 200 for an unknown name or serial too.
        if (!isSidekeyError(error, 'SECRET_NOT_FOUND')) throw error;
      }
      return empty(res, 200);
    }
    return notFound(res);
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: serializeError(error) }, 'ecs-secrets API request failed');
      // ecs-secrets answers every failure with an empty 400.
      if (!res.headersSent) empty(res, 400);
      else res.destroy();
    });
  };
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = `${goJson(value)}\n`;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

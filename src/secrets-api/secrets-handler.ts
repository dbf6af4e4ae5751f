/**
 * One request to the secrets API: guards (no forwarding headers, our own Host), route, bearer
 * token, input checks, role and name patterns, then the operation. Errors become
 * `{"Code","Message"}` with a meaningful status; internal errors say nothing internal.
 *
 * A fetch answers with `ETag: "SERIAL"`. A fetch of the latest version with `?wait=SECONDS` and
 * `If-None-Match: "SERIAL"` is a watch: it answers when the latest active version is another one
 * (or is gone), or after SECONDS with 304 Not Modified.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ListenAddress } from '../core/config/listen-address.js';
import { isSidekeyError, SidekeyError } from '../core/errors.js';
import { audit } from '../core/log/audit.js';
import type { Logger } from '../core/log/logger.js';
import type { MetricsRegistry } from '../core/metrics/metrics-registry.js';
import { seriesBy } from '../core/metrics/series-by.js';
import { historyEntry } from '../core/secrets/history-entry.js';
import { checkName, checkSerialNumber, parseSerial } from '../core/secrets/secret-errors.js';
import type { SecretService, SecretValue } from '../core/secrets/secret-service.js';
import { MAX_WATCH_SECONDS, waitForChange } from '../core/secrets/watch-secret.js';
import { errorAnswerOf } from '../net/error-reply.js';
import { sendJson } from '../net/json-reply.js';
import { guardedHeaders, hostHeaderAllowed } from '../net/request-guards.js';
import { splitTarget } from '../net/request-target.js';
import { type Caller, mayTouch, type SecretsAuth } from './secrets-auth.js';
import { readJsonBody } from './secrets-body.js';
import { matchRoute, type Route } from './secrets-routes.js';

export interface SecretsHandlerDeps {
  readonly service: SecretService;
  readonly auth: () => SecretsAuth;
  readonly address: () => ListenAddress;
  readonly hosts: () => ReadonlySet<string>;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
}

const WWW_AUTHENTICATE = 'Bearer realm="sidekey-secrets"';

/** A JSON body and its Content-Length (and, for a secret value, its ETag), serialized once. */
interface Serialized {
  readonly text: string;
  readonly length: string;
  readonly etag?: string;
}

/** What a watch answers when nothing changed in its time. */
const NOT_MODIFIED = Symbol('not modified');

/** A watch's inputs: how long to wait, and the serial the caller holds (from If-None-Match). */
function watchInputs(wait: string, serial: number | undefined, ifNoneMatch: string | undefined): { waitMs: number; known?: number } {
  if (serial !== undefined) throw new SidekeyError('BAD_REQUEST', 'wait watches the latest version; drop the serial from the path');
  if (!/^[1-9][0-9]{0,2}$/.test(wait) || Number(wait) > MAX_WATCH_SECONDS)
    throw new SidekeyError('BAD_REQUEST', `wait must be whole seconds from 1 to ${MAX_WATCH_SECONDS}`);
  const waitMs = Number(wait) * 1000;
  if (ifNoneMatch === undefined) return { waitMs };
  const known = /^"([1-9][0-9]{0,15})"$/.exec(ifNoneMatch.trim());
  if (!known) throw new SidekeyError('BAD_REQUEST', 'If-None-Match must be an ETag a fetch answered, such as "3"');
  return { waitMs, known: Number(known[1]) };
}

/**
 * Bodies of cached secret values, by value: a cached value is one frozen object for its whole
 * time in the cache (SecretService), so its JSON is built on its first fetch, not on every one.
 * An entry goes when its value is collected.
 */
const cachedBodies = new WeakMap<object, Serialized>();

function serialize(value: unknown, etag?: string): Serialized {
  const text = JSON.stringify(value);
  return { text, length: String(Buffer.byteLength(text)), ...(etag !== undefined ? { etag } : {}) };
}

/** A 200 JSON answer; the header list is a flat array, which node:http writes without walking an object. */
function sendOk(res: ServerResponse, value: unknown, body: Serialized = serialize(value)): void {
  const headers = ['content-type', 'application/json', 'content-length', body.length, 'cache-control', 'no-store'];
  if (body.etag !== undefined) headers.push('etag', body.etag);
  res.writeHead(200, headers);
  res.end(body.text);
}

/** A secret value's 200 answer with its ETag, its body serialized once per value (cached values are one object). */
function sendValue(res: ServerResponse, value: SecretValue): void {
  let body = cachedBodies.get(value);
  if (body === undefined) {
    body = serialize(value, `"${value.serial}"`);
    cachedBodies.set(value, body);
  }
  sendOk(res, value, body);
}

function expectedSerial(body: Record<string, unknown>): number | undefined {
  return body.expected_serial === undefined ? undefined : checkSerialNumber(body.expected_serial, 'expected_serial', true);
}

export function createSecretsHandler(deps: SecretsHandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const requests = deps.metrics.counter('sidekey_secrets_requests_total', 'Secrets API requests by operation and status.', [
    'operation',
    'status',
  ]);

  /**
   * Input checks and authorization run synchronously (a throw here is caught by the caller like a
   * rejection); a fetch then goes straight to the service, without an async frame of its own.
   */
  const run = (
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    caller: Caller,
    query: URLSearchParams | undefined,
  ): Promise<unknown> | SecretValue => {
    const name = route.name === undefined ? undefined : checkName(route.name, 'secret name');
    const serial = route.serial === undefined ? undefined : parseSerial(route.serial);
    if (query !== undefined) {
      const allowedQuery = route.operation === 'delete' ? ['confirm'] : route.operation === 'fetch' ? ['wait'] : [];
      for (const key of query.keys()) {
        if (!allowedQuery.includes(key))
          throw new SidekeyError('BAD_REQUEST', `unknown query parameter ${JSON.stringify(key.slice(0, 40))}`);
      }
    }
    deps.auth().authorize(caller, route.operation, name);
    const wait = route.operation === 'fetch' ? query?.get('wait') : null;
    if (wait !== null && wait !== undefined) {
      const ifNoneMatch = req.headers['if-none-match'];
      return watch(res, caller, name as string, watchInputs(wait, serial, ifNoneMatch));
    }
    if (route.operation === 'fetch') {
      const cached = deps.service.fetchCached(caller, name as string, serial);
      // A cached value is answered synchronously (the handler settles no promise for it).
      return cached ?? deps.service.fetchStored(caller.application, name as string, serial, caller.id);
    }
    return operate(req, route, caller, query, name, serial);
  };

  /** Watches waiting for a change now. */
  let waiting = 0;
  deps.metrics.gaugeCallback('sidekey_secrets_watches', 'Secrets API watches (wait=) waiting for a new version.', [], () => [
    [{}, waiting],
  ]);

  /** The latest version once it is not `known`; NOT_MODIFIED when `waitMs` passes first. A caller that leaves ends the wait. */
  const watch = async (
    res: ServerResponse,
    caller: Caller,
    name: string,
    { waitMs, known }: { waitMs: number; known?: number },
  ): Promise<SecretValue | typeof NOT_MODIFIED> => {
    if (known !== undefined) {
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      waiting += 1;
      try {
        if (!(await waitForChange(deps.service, caller.application, name, known, waitMs, gone.signal))) return NOT_MODIFIED;
      } finally {
        waiting -= 1;
      }
    }
    return deps.service.fetch(caller.application, name, undefined, caller.id);
  };

  const operate = async (
    req: IncomingMessage,
    route: Route,
    caller: Caller,
    query: URLSearchParams | undefined,
    name: string | undefined,
    serial: number | undefined,
  ): Promise<unknown> => {
    const app = caller.application;
    const { service } = deps;
    const actor = caller.id;
    switch (route.operation) {
      case 'list': {
        const { names } = await service.list(app, actor);
        return { application: app, names: names.filter((n) => mayTouch(caller, n)) };
      }
      case 'fetch':
        return service.fetch(app, name as string, serial, actor);
      case 'history': {
        const history = await service.history(app, name as string, actor);
        return { name: history.name, versions: history.versions.map(historyEntry) };
      }
      case 'create': {
        const body = await readJsonBody(req, ['payload', 'expected_serial'], true);
        if (body.payload === undefined) throw new SidekeyError('BAD_REQUEST', 'the body needs "payload" (a string)');
        const cas = expectedSerial(body);
        return service.create(app, name as string, body.payload, { actor, ...(cas !== undefined ? { expectedSerial: cas } : {}) });
      }
      case 'rotate': {
        const body = await readJsonBody(req, ['payload', 'length', 'alphabet', 'expected_serial']);
        const cas = expectedSerial(body);
        if (body.payload !== undefined && (body.length !== undefined || body.alphabet !== undefined)) {
          throw new SidekeyError('BAD_REQUEST', 'cannot specify "payload" together with "length" or "alphabet"');
        }
        if (body.length !== undefined && typeof body.length !== 'number')
          throw new SidekeyError('BAD_REQUEST', '"length" must be a number');
        if (body.alphabet !== undefined && typeof body.alphabet !== 'string')
          throw new SidekeyError('BAD_REQUEST', '"alphabet" must be a string');
        const source =
          body.payload !== undefined
            ? { payload: body.payload }
            : {
                generate: {
                  ...(body.length !== undefined ? { length: body.length as number } : {}),
                  ...(body.alphabet !== undefined ? { alphabet: body.alphabet as string } : {}),
                },
              };
        return service.rotate(app, name as string, source, { actor, ...(cas !== undefined ? { expectedSerial: cas } : {}) });
      }
      case 'restore': {
        const cas = expectedSerial(await readJsonBody(req, ['expected_serial']));
        const restored = await service.restore(app, name as string, serial as number, {
          actor,
          ...(cas !== undefined ? { expectedSerial: cas } : {}),
        });
        return { name: restored.name, serial: restored.serial, active: restored.active, restored_from: restored.restoredFrom };
      }
      case 'revoke':
        return service.revoke(app, name as string, serial as number, actor);
      case 'delete': {
        if (query?.get('confirm') !== name) {
          throw new SidekeyError('BAD_REQUEST', `deleting every version is explicit: add ?confirm=${name} to the URL`);
        }
        return service.delete(app, name as string, actor);
      }
    }
  };

  const fail = (res: ServerResponse, operation: string, error: unknown): number => {
    if (!isSidekeyError(error)) deps.logger.error({ err: error, operation }, 'secrets request failed');
    const { status, body } = errorAnswerOf(error);
    if (isSidekeyError(error, 'SECRET_REVOKED')) {
      // ecs-secrets' shape for a revoked version, alongside the error.
      Object.assign(body, { name: error.details?.name, serial: error.details?.serial, payload: '', active: false });
    }
    const headers: Record<string, string> = {};
    if (status === 401) headers['www-authenticate'] = WWW_AUTHENTICATE;
    if (status === 405) headers.allow = String((isSidekeyError(error) && error.details?.allow) || '');
    sendJson(res, status, body, headers);
    return status;
  };

  /** Counter series by operation and status, their label keys built once. */
  const series = seriesBy((operation: string) => seriesBy((status: number) => requests.labels({ operation, status: String(status) })));
  const done = (operation: string, status: number) => series(operation)(status).inc();

  const failed = (res: ServerResponse, operation: string, caller: Caller | undefined, error: unknown) => {
    if (caller && isSidekeyError(error) && error.kind === 'FORBIDDEN') {
      audit(deps.logger, 'secrets.denied', { actor: caller.id, app: caller.application, operation, outcome: error.code });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    done(operation, fail(res, operation, error));
  };

  // No async wrapper per request: the checks run synchronously, the operation's promise is
  // settled by two handlers; every error ends in `failed` as before.
  return (req, res) => {
    const method = req.method ?? 'GET';
    const target = splitTarget(req.url ?? '/');
    let operation = 'unknown';
    let caller: Caller | undefined;
    let result: Promise<unknown> | SecretValue;
    try {
      const query = target.query === undefined ? undefined : new URLSearchParams(target.query);
      const headers = guardedHeaders(req);
      const forwarded = headers.forwarded;
      if (forwarded) throw new SidekeyError('FORWARDED_REFUSED', `requests relayed by a proxy are refused (${forwarded} header present)`);
      if (!hostHeaderAllowed(headers.host, deps.address(), deps.hosts()))
        throw new SidekeyError('HOST_REFUSED', 'the Host header does not name this listener');
      const route = matchRoute(method, target.path);
      operation = route.operation;
      try {
        caller = deps.auth().authenticate(headers.authorization);
      } catch (error) {
        audit(deps.logger, 'secrets.auth', { operation, outcome: (error as SidekeyError).code });
        throw error;
      }
      result = run(req, res, route, caller, query);
    } catch (error) {
      failed(res, operation, caller, error);
      return;
    }
    if (!(result instanceof Promise)) {
      // A cached fetch: answered now, no promise to settle.
      try {
        sendValue(res, result);
        done(operation, 200);
      } catch (error) {
        failed(res, operation, caller, error);
      }
      return;
    }
    const op = operation;
    const who = caller;
    result.then(
      (value) => {
        try {
          if (value === NOT_MODIFIED) {
            res.writeHead(304, { etag: req.headers['if-none-match'] ?? '', 'cache-control': 'no-store' });
            res.end();
            done(op, 304);
            return;
          }
          if (op === 'fetch') sendValue(res, value as SecretValue);
          else sendOk(res, value);
          done(op, 200);
        } catch (error) {
          failed(res, op, who, error);
        }
      },
      (error: unknown) => failed(res, op, who, error),
    );
  };
}

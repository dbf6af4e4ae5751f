/**
 * The admin listener (default 127.0.0.1:9090): `/health` (the process answers), `/ready` (every
 * service holds valid credentials and every front is up), `/metrics` (Prometheus text).
 * The incident-response API lives under `/admin/` (see admin-api.ts when present).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { adminListen } from '../core/config/admin-listen.js';
import { ADMIN_CAPS, capsOf } from '../core/config/connection-limits.js';
import type { ListenAddress } from '../core/config/listen-address.js';
import { formatListenAddress } from '../core/config/listen-address.js';
import type { LoadedConfig } from '../core/config/load-config.js';
import type { ErrorKind } from '../core/errors.js';
import { capConnections, HTTP_SERVER_TIMEOUTS, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import { errorAnswer, sendError } from '../net/error-reply.js';
import type { Front, FrontContext } from '../net/front.js';
import { close, listen } from '../net/http-listen.js';
import { sendJson } from '../net/json-reply.js';
import { requestDurations, timedRequests } from '../net/request-durations.js';
import { guardedHeaders, hostHeaderAllowed, hostNames } from '../net/request-guards.js';
import { ADMIN_PREFIX, createAdminApi } from './admin-api.js';
import { judgeQuit, QUIT_PATH } from './quit-route.js';

/** The paths counted under their own name; anything else is `other`, so no request can add a series. */
const KNOWN_PATHS = new Set(['/health', '/ready', '/metrics', QUIT_PATH]);

export interface AdminFront extends Front {
  /** The bound address (with the real port when 0 was configured). */
  address(): ListenAddress | undefined;
}

export function createAdminFront(ctx: FrontContext, fronts: () => readonly Front[]): AdminFront {
  let loaded: LoadedConfig = ctx.loaded;
  let server: Server | undefined;
  let bound: ListenAddress | undefined;
  let hosts: ReadonlySet<string> = new Set();
  const requests = ctx.metrics.counter('sidekey_admin_requests_total', 'Admin listener requests by path and status.', ['path', 'status']);

  const adminApi = createAdminApi({ config: () => loaded, broker: ctx.broker, logger: ctx.logger });
  const isReady = () => ctx.broker.ready() && fronts().every((f) => f === front || (f.ready?.() ?? true));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '';
    const label = KNOWN_PATHS.has(path) ? path : path.startsWith(ADMIN_PREFIX) ? ADMIN_PREFIX : 'other';
    const reply = (status: number, body: unknown) => {
      requests.inc({ path: label, status: String(status) });
      sendJson(res, status, body);
    };
    const fail = (kind: ErrorKind, message: string) => {
      const answer = errorAnswer(kind, message);
      reply(answer.status, answer.body);
    };
    // A page that rebinds its own DNS name to 127.0.0.1 would read /ready (service names) and
    // /metrics; its requests carry that name as Host.
    if (!hostHeaderAllowed(guardedHeaders(req).host, bound as ListenAddress, hosts)) {
      fail('HOST_REFUSED', 'the Host header does not name this listener; add it to admin.allowed_hosts');
      return;
    }
    if (path === QUIT_PATH) {
      const verdict = judgeQuit(req, loaded.config.admin.token, ctx.logger);
      if (!verdict.quit) return fail(verdict.kind, verdict.message);
      if (!ctx.quit) return fail('NOT_FOUND', `${QUIT_PATH} is served by \`sidekey serve\` only`);
      reply(200, { status: 'draining', drain_seconds: loaded.config.shutdown.drain_seconds });
      ctx.logger.info({ path: QUIT_PATH }, 'asked to quit: draining, then exit 0');
      ctx.quit();
      return;
    }
    if (path.startsWith(ADMIN_PREFIX)) {
      adminApi(req, res, path, (status) => requests.inc({ path: ADMIN_PREFIX, status: String(status) })).catch((error: unknown) => {
        ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'admin API failed');
        if (!res.headersSent) sendError(res, error);
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      fail('METHOD_NOT_ALLOWED', 'the admin listener answers GET only here');
      return;
    }
    switch (path) {
      case '/health':
        reply(200, { status: 'ok' });
        return;
      case '/ready': {
        const ready = isReady();
        const services = ctx.broker.status().map((s) => ({ service: s.service, ready: s.ready, enabled: s.enabled }));
        reply(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', services });
        return;
      }
      case '/metrics': {
        if (!loaded.config.metrics.prometheus.enabled) {
          fail('NOT_FOUND', 'metrics are disabled (metrics.prometheus.enabled: false)');
          return;
        }
        ctx.metrics.render().then(
          (text) => {
            requests.inc({ path: '/metrics', status: '200' });
            res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'content-length': Buffer.byteLength(text) });
            res.end(text);
          },
          (error: unknown) => {
            ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'metrics could not be collected');
            reply(500, errorAnswer('INTERNAL', 'metrics could not be collected; the daemon log has the details').body);
          },
        );
        return;
      }
      default:
        fail('NOT_FOUND', `no such admin path; try /health, /ready or /metrics`);
    }
  };

  const front: AdminFront = {
    name: 'admin',
    address: () => bound,
    addresses: () => (bound ? [bound] : []),
    async start() {
      server = createServer(HTTP_SERVER_TIMEOUTS, timedRequests(requestDurations(ctx.metrics), 'admin', handle));
      const refused = ctx.metrics.counter(REFUSED_CONNECTIONS_METRIC, REFUSED_CONNECTIONS_HELP, ['front', 'reason']);
      capConnections(
        server,
        () => capsOf(loaded.config.admin, ADMIN_CAPS),
        (reason) => refused.inc({ front: 'admin', reason }),
      );
      bound = await listen(server, adminListen(loaded.config));
      hosts = hostNames(bound, loaded.config.admin.allowed_hosts);
      ctx.logger.info({ listen: formatListenAddress(bound) }, 'admin listener up');
    },
    async stop(drainMs) {
      if (server) await close(server, drainMs);
    },
    async reload(next) {
      // Compared with the address the listener was opened for, so every later reload still says so.
      if (formatListenAddress(adminListen(next.config)) !== formatListenAddress(adminListen(ctx.loaded.config)))
        ctx.logger.warn(
          { keys: ['admin.listen'], running: bound ? formatListenAddress(bound) : undefined },
          'these keys take effect on restart',
        );
      loaded = next;
      if (bound) hosts = hostNames(bound, next.config.admin.allowed_hosts);
    },
  };
  return front;
}

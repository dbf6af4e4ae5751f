/**
 * The per-service credential endpoint (AWS container-credentials protocol): `GET /v1/credentials`
 * on every configured listener (default 127.0.0.1:1338). See docs/credential-endpoint.md.
 */
import { createServer, type Server } from 'node:http';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import type { LoadedConfig } from '../core/config/load-config.js';
import { DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND, endpointListeners } from '../core/config/sections/credentials-section.js';
import type { Front, FrontContext } from '../daemon/front.js';
import { close, listen } from '../net/http-listen.js';
import { hostNames } from '../net/request-guards.js';
import { createCredentialRequestHandler, type ListenerState } from './credential-request-handler.js';
import { ServiceRateLimits } from './token-bucket.js';

export const CREDENTIAL_ENDPOINT_FRONT = 'credential-endpoint';
/** Time allowed for a client to send its request headers (slowloris guard). */
export const HEADERS_TIMEOUT_MS = 10_000; // 10 s
/** Time allowed for a whole request; a cold STS call is bounded by credentials.request_timeout well inside it. */
export const REQUEST_TIMEOUT_MS = 30_000; // 30 s
/** Idle keep-alive connections are closed after this (SDKs reuse them between refreshes rarely). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000; // 5 s
/** Largest request header block accepted: a token is at most 4 KiB, the rest is small. */
export const MAX_HEADER_BYTES = 16 * 1024; // 16 KiB

/** One object, so the rate limiter recognises an unchanged limit by identity. */
const DEFAULT_RATE_LIMIT = Object.freeze({ per_second: DEFAULT_RATE_PER_SECOND, burst: DEFAULT_RATE_BURST });

export interface CredentialEndpointFront extends Front {
  addresses(): readonly ListenAddress[];
}

/** True when the config has anything for the endpoint to serve. */
export function wantsCredentialEndpoint(config: LoadedConfig['config']): boolean {
  return Object.keys(config.services).length > 0 || config.dynamic_services.enabled;
}

export function createCredentialEndpointFront(ctx: FrontContext): CredentialEndpointFront {
  let loaded = ctx.loaded;
  const listeners: { server: Server; state: ListenerState }[] = [];
  const limits = new ServiceRateLimits(
    (service) => ctx.credentials.rateLimit?.(service) ?? loaded.config.server?.rate_limit ?? DEFAULT_RATE_LIMIT,
  );
  const handle = createCredentialRequestHandler({
    broker: ctx.credentials,
    logger: ctx.logger,
    limits,
    requests: ctx.metrics.counter('sidekey_credential_requests_total', 'Credential endpoint requests by service and outcome.'),
    logHealthChecks: () => loaded.config.server?.log_health_checks === true,
  });
  const allowedHosts = () => loaded.config.server?.allowed_hosts ?? [];

  return {
    name: CREDENTIAL_ENDPOINT_FRONT,
    addresses: () => listeners.map((l) => l.state.address),
    async start() {
      for (const address of endpointListeners(loaded.config.server)) {
        const state: ListenerState = { address, hosts: new Set() };
        const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) =>
          handle(req, res, state),
        );
        server.headersTimeout = HEADERS_TIMEOUT_MS;
        server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
        const bound = await listen(server, address);
        state.address = bound;
        state.hosts = hostNames(bound, allowedHosts());
        listeners.push({ server, state });
        ctx.logger.info({ listen: formatListenAddress(bound) }, 'credential endpoint up');
      }
    },
    async stop(drainMs) {
      await Promise.all(listeners.map((l) => close(l.server, drainMs)));
      listeners.length = 0;
    },
    async reload(next) {
      const before = endpointListeners(loaded.config.server).map(formatListenAddress).join(' ');
      loaded = next;
      for (const l of listeners) l.state.hosts = hostNames(l.state.address, allowedHosts());
      limits.retain(ctx.credentials.services());
      if (endpointListeners(next.config.server).map(formatListenAddress).join(' ') !== before) {
        ctx.logger.warn('server.listeners changed: the new addresses take effect on restart');
      }
    },
  };
}

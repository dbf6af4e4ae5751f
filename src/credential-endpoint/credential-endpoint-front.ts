/**
 * The per-service credential endpoint (AWS container-credentials protocol): `GET /v1/credentials`
 * on every configured listener (default 127.0.0.1:1338). See docs/credential-endpoint.md.
 */
import { createServer, type Server } from 'node:http';
import { CREDENTIAL_ENDPOINT_CAPS, capsOf } from '../core/config/connection-limits.js';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import type { LoadedConfig } from '../core/config/load-config.js';
import { DEFAULT_RATE_BURST, DEFAULT_RATE_PER_SECOND, endpointListeners } from '../core/config/sections/credentials-section.js';
import { serializeError } from '../core/log/logger.js';
import { capConnections, HTTP_SERVER_TIMEOUTS, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { close, listen } from '../net/http-listen.js';
import { requestDurations, timedRequests } from '../net/request-durations.js';
import { hostNames } from '../net/request-guards.js';
import { createCredentialRequestHandler, type ListenerState } from './credential-request-handler.js';
import { ServiceRateLimits } from './token-bucket.js';

export const CREDENTIAL_ENDPOINT_FRONT = 'credential-endpoint';
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

/** One bound listener, under the address its config names (port 0 stays 0 there, bound to a real one). */
interface Listener {
  readonly configured: string;
  readonly server: Server;
  readonly state: ListenerState;
}

export function createCredentialEndpointFront(ctx: FrontContext): CredentialEndpointFront {
  let loaded = ctx.loaded;
  const listeners: Listener[] = [];
  const limits = new ServiceRateLimits(
    (service) => ctx.broker.rateLimit?.(service) ?? loaded.config.server?.rate_limit ?? DEFAULT_RATE_LIMIT,
  );
  const handle = createCredentialRequestHandler({
    broker: ctx.broker,
    logger: ctx.logger,
    limits,
    requests: ctx.metrics.counter('sidekey_credential_requests_total', 'Credential endpoint requests by service and outcome.', [
      'service',
      'outcome',
    ]),
    logHealthChecks: () => loaded.config.server?.log_health_checks === true,
  });
  const allowedHosts = () => loaded.config.server?.allowed_hosts ?? [];
  const refused = ctx.metrics.counter(REFUSED_CONNECTIONS_METRIC, REFUSED_CONNECTIONS_HELP, ['front', 'reason']);

  const timed = timedRequests(requestDurations(ctx.metrics), CREDENTIAL_ENDPOINT_FRONT, handle);
  const open = async (address: ListenAddress): Promise<void> => {
    const state: ListenerState = { address, hosts: new Set() };
    const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, ...HTTP_SERVER_TIMEOUTS }, (req, res) => timed(req, res, state));
    capConnections(
      server,
      () => capsOf(loaded.config.server, CREDENTIAL_ENDPOINT_CAPS),
      (reason) => refused.inc({ front: CREDENTIAL_ENDPOINT_FRONT, reason }),
    );
    const bound = await listen(server, address);
    state.address = bound;
    state.hosts = hostNames(bound, allowedHosts());
    listeners.push({ configured: formatListenAddress(address), server, state });
    ctx.logger.info({ listen: formatListenAddress(bound) }, 'credential endpoint up');
  };

  return {
    name: CREDENTIAL_ENDPOINT_FRONT,
    addresses: () => listeners.map((l) => l.state.address),
    async start() {
      for (const address of endpointListeners(loaded.config.server)) await open(address);
    },
    async stop(drainMs) {
      await Promise.all(listeners.map((l) => close(l.server, drainMs)));
      listeners.length = 0;
    },
    /**
     * New tokens, services, limits and allowed hosts apply at once. Listeners follow
     * `server.listeners`: removed addresses stop accepting and drain in the background, added
     * ones are bound now; an address that cannot be bound is logged and the rest still applies.
     */
    async reload(next) {
      loaded = next;
      for (const l of listeners) l.state.hosts = hostNames(l.state.address, allowedHosts());
      limits.retain(ctx.broker.services());
      const wanted = endpointListeners(next.config.server);
      const wantedKeys = new Set(wanted.map(formatListenAddress));
      for (const l of [...listeners]) {
        if (wantedKeys.has(l.configured)) continue;
        listeners.splice(listeners.indexOf(l), 1);
        const where = formatListenAddress(l.state.address);
        ctx.logger.info({ listen: where }, 'credential endpoint listener removed: draining');
        close(l.server).then(
          () => ctx.logger.info({ listen: where }, 'credential endpoint listener closed'),
          (error: unknown) => ctx.logger.error({ err: serializeError(error), listen: where }, 'closing a removed listener failed'),
        );
      }
      for (const address of wanted) {
        if (listeners.some((l) => l.configured === formatListenAddress(address))) continue;
        try {
          await open(address);
        } catch (error) {
          ctx.logger.error(
            { err: serializeError(error), listen: formatListenAddress(address) },
            'a new credential endpoint listener could not be bound; the other changes are in effect',
          );
        }
      }
    },
  };
}

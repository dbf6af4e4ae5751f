/**
 * The least an authenticated, audited HTTP front can do per request, as a second reference beside
 * bare node:http in bench/credential-endpoint.ts, secrets.ts and agent.ts. On top of the bare
 * server's answer it does only what every sidekey front must do for each request, each the plain
 * way:
 * - hash the presented token and compare it with `timingSafeEqual` (core/crypto/secret-equal.ts);
 * - write one audit line through the daemon's own logger, redaction included, and its production
 *   destination (buffered, to /dev/null), with the fixed fields bound once as a child logger;
 * - count the request and observe its duration in the daemon's metrics registry.
 * No routing, Host or proxy checks, cache lookup or rate limit. A front's cost above the floor is
 * its own code; the floor's cost above bare is the price of the requirements themselves.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { TokenIndex } from '../src/core/crypto/secret-equal.js';
import { auditLine, auditLogger } from '../src/core/log/audit.js';
import { bufferedDestination, createLogger } from '../src/core/log/logger.js';
import { MetricsRegistry } from '../src/core/metrics/metrics-registry.js';
import { pairedRatio, type RoundsResult, roundRatios } from './_load.js';

export interface FrontFloorOptions {
  /** The answer, byte for byte the front's own (status 200), made per request as the bare server makes it. */
  readonly body: () => string;
  /** Sent when given, as the front sends it (the agent API sends none). */
  readonly contentType?: string;
  /** The one token accepted. */
  readonly token: string;
  /** Reads the presented token from a request, as the front does (its header, its prefix). */
  readonly presented: (req: IncomingMessage) => string | undefined;
  /** The audit event and the fields bound once, as the front binds them. */
  readonly event: string;
  readonly bound: Readonly<Record<string, unknown>>;
  /**
   * The fields each request's line adds, as an object literal, as the fronts write them: a line
   * built by spreading a shared object into a new one cost several times what the literal costs
   * when this floor was first measured, which would measure the spread, not the requirement.
   */
  readonly fields: (req: IncomingMessage) => Record<string, unknown>;
}

/** Starts the floor on a loopback port in this process. */
export async function startFrontFloor(options: FrontFloorOptions): Promise<{ url: string; server: Server }> {
  const tokens = new TokenIndex([[options.token, true]]);
  const lines = auditLogger(createLogger({ level: 'info', destination: bufferedDestination('/dev/null') }), options.event, options.bound);
  const metrics = new MetricsRegistry();
  const served = metrics.counter('floor_requests_total', 'Floor requests.', ['outcome']).labels({ outcome: 'ok' });
  const durations = metrics.histogram('floor_request_duration_seconds', 'Floor requests.', ['status']).labels({ status: '200' });
  const type = options.contentType === undefined ? [] : ['content-type', options.contentType];
  const server = createServer((req, res) => {
    const started = performance.now();
    if (tokens.find(options.presented(req)) === undefined) {
      res.writeHead(401).end();
      return;
    }
    const body = options.body();
    res.writeHead(200, [...type, 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store']);
    res.end(body);
    served.inc();
    auditLine(lines, options.event, options.fields(req));
    durations.observe((performance.now() - started) / 1000);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * Where a front's gap to bare goes, from the three measured in the same rounds: the floor against
 * bare (what the requirements cost) and the front against the floor (its own code).
 */
export function floorLine(bare: RoundsResult, floor: RoundsResult, ours: RoundsResult): string {
  return (
    `floor (token check, audit line, metrics, nothing else): ${pairedRatio(floor, bare).toFixed(2)}x of bare, rounds ${roundRatios(floor, bare)}, ` +
    `${(floor.cpuMicros - bare.cpuMicros).toFixed(1)} us/req of CPU above bare; ` +
    `sidekey: ${pairedRatio(ours, floor).toFixed(2)}x of the floor, rounds ${roundRatios(ours, floor)}, ${(ours.cpuMicros - floor.cpuMicros).toFixed(1)} us/req above it\n`
  );
}

/**
 * What an HTTP listener lets one client hold: a bounded number of connections (in all and per
 * source address, config/connection-limits.ts), and time limits from the first byte, so a
 * connection that sends nothing, or a head slowly, is closed (slowloris) instead of held forever.
 */
import type { Server as HttpServer, ServerOptions } from 'node:http';
import type { Server } from 'node:net';
import type { ConnectionCaps } from '../core/config/connection-limits.js';

/** Time a client has to send its request headers, counted from the connection (slowloris guard). */
export const HEADERS_TIMEOUT_MS = 10_000; // 10 s
/** Time allowed for a whole request; a cold STS call is bounded well inside it. */
export const REQUEST_TIMEOUT_MS = 30_000; // 30 s
/** Idle keep-alive connections are closed after this. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000; // 5 s
/** How often node:http looks for connections past those limits (its default, 30 s, let idle ones pile up). */
export const CONNECTIONS_CHECK_MS = 1_000; // 1 s

/** node:http options every front's server takes (plus its own maxHeaderSize). */
export const HTTP_SERVER_TIMEOUTS = {
  requestTimeout: REQUEST_TIMEOUT_MS,
  headersTimeout: HEADERS_TIMEOUT_MS,
  keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
  connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
} as const satisfies ServerOptions;

export type RefusedBecause = 'listener-full' | 'source-full';

/** The counter every front increments for a connection its caps refused, by front and reason. */
export const REFUSED_CONNECTIONS_METRIC = 'sidekey_connections_refused_total';
export const REFUSED_CONNECTIONS_HELP = 'Connections closed at once by a listener cap, by front and reason (listener-full, source-full).';

/**
 * Caps a listener's connections: `max` through net's own maxConnections (closed before anything
 * reads them), `perSource` by counting open connections per remote address. `caps` is read per
 * connection, so a reload applies to the next one.
 */
export function capConnections(server: Server | HttpServer, caps: () => ConnectionCaps, refused?: (why: RefusedBecause) => void): void {
  const open = new Map<string, number>();
  server.maxConnections = caps().max;
  server.on('drop', () => refused?.('listener-full'));
  server.on('connection', (socket) => {
    const limits = caps();
    server.maxConnections = limits.max;
    const source = socket.remoteAddress;
    if (source === undefined) return; // a unix socket: every peer is "local"
    const count = open.get(source) ?? 0;
    if (count >= limits.perSource) {
      refused?.('source-full');
      socket.destroy();
      return;
    }
    open.set(source, count + 1);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left <= 0) open.delete(source);
      else open.set(source, left);
    });
  });
}

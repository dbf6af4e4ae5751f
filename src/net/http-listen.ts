/** Starting listeners (TCP or unix socket) and stopping HTTP ones on TCP or unix-socket addresses, with a drain on stop. */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import { SidekeyError } from '../core/errors.js';

/** Permissions of a unix socket we create: owner and group may connect. */
export const UNIX_SOCKET_MODE = 0o660;
/** How long a stop waits for in-flight requests before closing their connections. */
export const DEFAULT_DRAIN_MS = 5000;

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there: fine.
  }
}

/**
 * Listens (any `net.Server`: the HTTP fronts', the guard's and the Postgres proxy's) and resolves
 * with the bound address (the real port when 0 was asked for). A stale unix socket is replaced and
 * the new one gets UNIX_SOCKET_MODE.
 */
export function listen(server: Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        new SidekeyError('LISTEN_FAILED', `cannot listen on ${formatListenAddress(address)}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      if (address.kind === 'unix') {
        chmodSync(address.path, UNIX_SOCKET_MODE);
        resolve(address);
        return;
      }
      const bound = server.address() as AddressInfo;
      resolve({ kind: 'tcp', host: address.host, port: bound.port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (address.kind === 'unix') {
      removeStaleSocket(address.path);
      server.listen(address.path);
    } else {
      server.listen({ host: address.host, port: address.port, ipv6Only: address.host === '::' ? false : undefined });
    }
  });
}

/**
 * Stops accepting, lets in-flight requests finish for up to `drainMs`, then closes what is left.
 */
export async function close(server: HttpServer, drainMs = DEFAULT_DRAIN_MS): Promise<void> {
  if (!server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), drainMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

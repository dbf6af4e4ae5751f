/** A TCP or unix-socket listener for the Postgres proxy (net, not http), with TCP_NODELAY and keepalive on every accepted socket. */
import { createServer, type Server, type Socket } from 'node:net';
import type { ListenAddress } from '../core/config/listen-address.js';
import { listen } from '../net/http-listen.js';

export interface SocketListener {
  readonly address: ListenAddress;
  readonly server: Server;
  /** Stops accepting at once; open sessions are the front's to drain (net's close callback would wait for them). */
  close(): void;
}

export async function listenSockets(
  address: ListenAddress,
  keepAliveMs: number,
  onSocket: (socket: Socket) => void,
): Promise<SocketListener> {
  const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveMs }, onSocket);
  const bound = await listen(server, address);
  return { address: bound, server, close: () => void server.close() };
}

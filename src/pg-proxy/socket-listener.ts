/** A TCP or unix-socket listener for the Postgres proxy (net, not http), with TCP_NODELAY and keepalive on every accepted socket. */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import { SidekeyError } from '../core/errors.js';
import { UNIX_SOCKET_MODE } from '../net/http-listen.js';

export interface SocketListener {
  readonly address: ListenAddress;
  readonly server: Server;
  /** Stops accepting at once; open sessions are the front's to drain (net's close callback would wait for them). */
  close(): void;
}

function removeStaleSocket(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
}

export function listenSockets(address: ListenAddress, keepAliveMs: number, onSocket: (socket: Socket) => void): Promise<SocketListener> {
  const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: keepAliveMs }, onSocket);
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new SidekeyError('LISTEN_FAILED', `cannot listen on ${formatListenAddress(address)}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      let bound = address;
      if (address.kind === 'unix') chmodSync(address.path, UNIX_SOCKET_MODE);
      else bound = { kind: 'tcp', host: address.host, port: (server.address() as AddressInfo).port };
      resolve({ address: bound, server, close: () => void server.close() });
    });
    if (address.kind === 'unix') {
      removeStaleSocket(address.path);
      server.listen(address.path);
    } else {
      server.listen({ host: address.host, port: address.port });
    }
  });
}

/** Listening with a plain `net.Server` (the guard parses HTTP itself); errors in the catalogue's terms. */
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import type { AddressInfo, Server } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import { SidekeyError } from '../core/errors.js';
import { UNIX_SOCKET_MODE } from '../net/http-listen.js';

export function listenSocketServer(server: Server, address: ListenAddress): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new SidekeyError('LISTEN_FAILED', `cannot listen on ${formatListenAddress(address)}: ${error.code ?? error.message}`, {
          cause: error,
        }),
      );
    };
    server.once('error', onError);
    const onListening = () => {
      server.off('error', onError);
      if (address.kind === 'unix') {
        chmodSync(address.path, UNIX_SOCKET_MODE);
        resolve(address);
        return;
      }
      resolve({ kind: 'tcp', host: address.host, port: (server.address() as AddressInfo).port });
    };
    if (address.kind === 'unix') {
      try {
        if (lstatSync(address.path).isSocket()) unlinkSync(address.path);
      } catch {
        // Nothing there: fine.
      }
      server.listen(address.path, onListening);
    } else {
      server.listen({ host: address.host, port: address.port, ipv6Only: address.host === '::' ? false : undefined }, onListening);
    }
  });
}

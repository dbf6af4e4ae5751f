/** What every HTTP test peer does to start and stop: listen on 127.0.0.1, close with its connections. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0: any free port) and resolves with the base URL. */
export async function listenLoopback(server: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return loopbackUrl(server);
}

/** The base URL of a listening loopback server. */
export function loopbackUrl(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes the server and every connection still open (keep-alive clients included). */
export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A request's whole body. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A test peer on its own node:http server: `serve` answers each request; start, address and stop are shared. */
export abstract class LoopbackHttpPeer {
  protected readonly server: Server = createServer((req, res) => this.serve(req, res));

  protected abstract serve(req: IncomingMessage, res: ServerResponse): void;

  listen(port = 0): Promise<string> {
    return listenLoopback(this.server, port);
  }

  get url(): string {
    return loopbackUrl(this.server);
  }

  close(): Promise<void> {
    return closeServer(this.server);
  }
}

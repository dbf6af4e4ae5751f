/**
 * The least a Node.js proxy can do per pgbench -S connection, as a reference for bench/pg.ts
 * (BENCH_PG_FLOOR=1): upstream connections logged in at start, a canned greeting, raw relay,
 * Terminate caught by its first byte, `DISCARD ALL` on release, upstream sockets read with
 * `onread` into a reused buffer as sidekey's are (UpstreamReads), and nothing else: no startup
 * parsing or limits, no timers, no cancel keys, no pool keys or reuse checks, no metrics, no log
 * lines. Not a proxy anyone should run; it shows what Node's sockets and streams cost per
 * connection on this machine, whatever the proxy on top does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { upstreamLogin } from '../src/pg-proxy/upstream-login.js';
import type { UpstreamReads } from '../src/pg-proxy/upstream-reads.js';

/** Upstream connections made at start: more than pgbench's clients plus those being reset. */
const FLOOR_UPSTREAMS = 40;
/** A client's first chunk of this size is an SSLRequest or GSSENCRequest (answered 'N'). */
const NEGOTIATION_PACKET_BYTES = 8;
const TERMINATE = 0x58;
const READY_FOR_QUERY = 0x5a;
const READY_FOR_QUERY_BYTES = 6;
const RESET = Buffer.from('Q\0\0\0\x10DISCARD ALL\0', 'latin1');
const REFUSE = Buffer.from('N');
/** A parked upstream's reads (the server has nothing to say to an idle connection). */
const parked = () => false;

export interface FloorProxy {
  readonly port: number;
  close(): void;
}

export async function startFloorProxy(pgPort: number, user: string, password: string, database: string): Promise<FloorProxy> {
  const endpoint = {
    label: 'database',
    configKey: 'bench',
    tlsKey: 'bench.tls',
    host: '127.0.0.1',
    port: pgPort,
    tlsMode: 'disable' as const,
    ca: undefined,
    keepAliveMs: 60_000,
  };
  const idle: Array<{ readonly socket: Socket; readonly reads: UpstreamReads }> = [];
  let greeting = Buffer.alloc(0);
  for (let i = 0; i < FLOOR_UPSTREAMS; i++) {
    const session = await upstreamLogin(
      {
        endpoint,
        user,
        params: [
          ['user', user],
          ['database', database],
        ],
        secret: { kind: 'password', password },
      },
      new AbortController().signal,
    );
    session.socket.on('error', () => {});
    if (!session.reads) throw new Error('a plain-TCP upstream is read with onread');
    const keyData = Buffer.from([0x4b, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 1]);
    const authOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
    greeting = Buffer.concat([authOk, ...session.greeting.slice(0, -1), keyData, ...session.greeting.slice(-1)]);
    idle.push({ socket: session.socket, reads: session.reads });
  }
  const server: Server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 }, (client) => {
    client.on('error', () => {});
    let upstream: { readonly socket: Socket; readonly reads: UpstreamReads } | undefined;
    // The view is the upstream's reused buffer: kept (true) while a write of it is queued.
    const toClient = (view: Buffer) => {
      client.write(view);
      return client.writableLength > 0;
    };
    client.on('data', (chunk: Buffer) => {
      if (!upstream) {
        if (chunk.length === NEGOTIATION_PACKET_BYTES) {
          client.write(REFUSE);
          return;
        }
        upstream = idle.pop();
        if (!upstream) {
          client.destroy();
          return;
        }
        upstream.reads.readTo(toClient);
        client.write(greeting);
        return;
      }
      if (chunk[0] !== TERMINATE) {
        upstream.socket.write(chunk);
        return;
      }
      const released = upstream;
      client.destroy();
      released.reads.readTo((answer) => {
        if (answer[answer.length - READY_FOR_QUERY_BYTES] !== READY_FOR_QUERY) return false;
        released.reads.readTo(parked);
        idle.push(released);
        return false;
      });
      released.socket.write(RESET);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      server.close();
      for (const { socket } of idle) socket.destroy();
    },
  };
}

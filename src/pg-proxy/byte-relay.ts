/**
 * After login the proxy only moves bytes, in both directions, with backpressure. It sets no idle
 * or read timeout (long queries and quiet sessions live as long as the peers want; TCP keepalive,
 * set when each socket was opened, finds dead peers). In the server-to-client direction it counts
 * message lengths (nothing is decoded or copied) so that a shutdown notice can be placed between
 * two messages.
 *
 * With a PoolGate (session pooling), the relay also walks the client's message headers: when the
 * client sends Terminate at a message boundary, the Terminate is not forwarded, the client socket
 * is ended and the upstream socket is released (listeners removed, paused, still open) for the
 * pool to decide on; `released` is then true.
 */
import type { Socket } from 'node:net';
import { FrameBoundary } from '../core/pg/frame-boundary.js';
import { SHUTDOWN_NOTICE_GRACE_MS } from '../core/pg/pg-limits.js';
import type { PoolGate } from '../core/pg/pool-gate.js';

export interface RelayCounters {
  toUpstream: number;
  toClient: number;
}

export class ByteRelay {
  readonly counters: RelayCounters = { toUpstream: 0, toClient: 0 };
  /** Settles when the client socket is closed and the upstream socket is closed or released. */
  readonly closed: Promise<void>;
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #boundary = new FrameBoundary();
  readonly #gate: PoolGate | undefined;
  readonly #wired: Array<readonly [Socket, string, (...args: never[]) => void]> = [];
  #notice: Buffer | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #released = false;
  #onRelease: (() => void) | undefined;

  constructor(client: Socket, upstream: Socket, gate?: PoolGate) {
    this.#client = client;
    this.#upstream = upstream;
    this.#gate = gate;
    const upstreamDone = new Promise<void>((resolve) => {
      if (upstream.destroyed) return resolve();
      // Removed on release: a pooled socket outlives many relays and must not collect listeners.
      const onClose = () => resolve();
      upstream.once('close', onClose);
      this.#onRelease = () => {
        upstream.off('close', onClose);
        resolve();
      };
    });
    this.closed = Promise.all([closedPromise(client), upstreamDone]).then(() => {
      clearTimeout(this.#graceTimer);
    });
  }

  /** True when the client terminated cleanly and the upstream socket was handed back open. */
  get released(): boolean {
    return this.#released;
  }

  #on(socket: Socket, event: string, handler: (...args: never[]) => void): void {
    socket.on(event, handler as (...args: unknown[]) => void);
    this.#wired.push([socket, event, handler]);
  }

  /** Starts moving bytes; `toUpstream`/`toClient` are bytes already read that belong to the other side. */
  start(toUpstream: Buffer, toClient: Buffer): void {
    const client = this.#client;
    const upstream = this.#upstream;
    const on = this.#on.bind(this);
    on(client, 'data', (chunk: Buffer) => this.#fromClient(chunk));
    on(upstream, 'drain', () => client.resume());
    on(upstream, 'data', (chunk: Buffer) => this.#fromUpstream(chunk));
    on(client, 'drain', () => upstream.resume());
    // Either side ending ends the other once its pending writes are out; an error ends both.
    on(client, 'end', () => upstream.end());
    on(upstream, 'end', () => client.end());
    on(client, 'error', () => upstream.destroy());
    on(upstream, 'error', () => client.destroy());
    on(client, 'close', () => upstream.destroy());
    on(upstream, 'close', () => {
      if (!client.writableEnded) client.end();
    });
    if (toClient.length > 0) this.#fromUpstream(toClient);
    if (toUpstream.length > 0) this.#fromClient(toUpstream);
    if (this.#released) return;
    client.resume();
    upstream.resume();
  }

  #fromClient(chunk: Buffer): void {
    if (this.#released) return;
    if (this.#gate && !this.#notice) {
      const stop = this.#gate.client(chunk);
      if (stop >= 0) {
        if (stop > 0) {
          this.counters.toUpstream += stop;
          this.#upstream.write(chunk.subarray(0, stop));
        }
        this.#release();
        return;
      }
    }
    this.counters.toUpstream += chunk.length;
    if (!this.#upstream.write(chunk)) this.#client.pause();
  }

  /** The client sent Terminate: end it, and hand the upstream socket back without closing it. */
  #release(): void {
    this.#released = true;
    for (const [socket, event, handler] of this.#wired) socket.off(event, handler as (...args: unknown[]) => void);
    this.#wired.length = 0;
    this.#upstream.pause();
    this.#client.on('error', () => {});
    this.#client.end();
    this.#client.resume(); // let a client that keeps writing be read to its end
    this.#onRelease?.();
  }

  /**
   * Ends the session for a shutdown: `notice` (an ErrorResponse) is written at the next boundary
   * between server messages, then both sides close; a server stuck inside a message gets a
   * short grace before both sockets are dropped.
   */
  terminate(notice: Buffer): void {
    if (this.#notice) return;
    this.#notice = notice;
    this.#client.pause();
    if (this.#boundary.atBoundary) {
      this.#finish();
      return;
    }
    this.#graceTimer = setTimeout(() => {
      this.#client.destroy();
      this.#upstream.destroy();
    }, SHUTDOWN_NOTICE_GRACE_MS);
    this.#graceTimer.unref();
  }

  #fromUpstream(chunk: Buffer): void {
    if (this.#notice) {
      const upTo = this.#boundary.feed(chunk, true);
      this.counters.toClient += upTo;
      if (upTo > 0) this.#client.write(chunk.subarray(0, upTo));
      if (this.#boundary.atBoundary) this.#finish();
      return;
    }
    this.#boundary.feed(chunk);
    this.#gate?.server(chunk);
    this.counters.toClient += chunk.length;
    if (!this.#client.write(chunk)) this.#upstream.pause();
  }

  #finish(): void {
    clearTimeout(this.#graceTimer);
    this.#upstream.pause();
    this.#upstream.end();
    if (this.#notice) this.#client.end(this.#notice);
    else this.#client.end();
  }
}

function closedPromise(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

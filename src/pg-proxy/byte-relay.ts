/**
 * After login the proxy only moves bytes, in both directions, with backpressure. It sets no idle
 * or read timeout (long queries and quiet sessions live as long as the peers want; TCP keepalive,
 * set when each socket was opened, finds dead peers). In the server-to-client direction it counts
 * message lengths (nothing is decoded or copied) so that a shutdown notice can be placed between
 * two messages.
 */
import type { Socket } from 'node:net';
import { FrameBoundary } from '../core/pg/frame-boundary.js';
import { SHUTDOWN_NOTICE_GRACE_MS } from '../core/pg/pg-limits.js';

export interface RelayCounters {
  toUpstream: number;
  toClient: number;
}

export class ByteRelay {
  readonly counters: RelayCounters = { toUpstream: 0, toClient: 0 };
  /** Settles when both sockets are closed. */
  readonly closed: Promise<void>;
  readonly #client: Socket;
  readonly #upstream: Socket;
  readonly #boundary = new FrameBoundary();
  #notice: Buffer | undefined;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(client: Socket, upstream: Socket) {
    this.#client = client;
    this.#upstream = upstream;
    this.closed = Promise.all([closedPromise(client), closedPromise(upstream)]).then(() => {
      clearTimeout(this.#graceTimer);
    });
  }

  /** Starts moving bytes; `toUpstream`/`toClient` are bytes already read that belong to the other side. */
  start(toUpstream: Buffer, toClient: Buffer): void {
    const client = this.#client;
    const upstream = this.#upstream;
    if (toClient.length > 0) this.#fromUpstream(toClient);
    if (toUpstream.length > 0) {
      this.counters.toUpstream += toUpstream.length;
      upstream.write(toUpstream);
    }
    client.on('data', (chunk: Buffer) => {
      this.counters.toUpstream += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => this.#fromUpstream(chunk));
    client.on('drain', () => upstream.resume());
    // Either side ending ends the other once its pending writes are out; an error ends both.
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!client.writableEnded) client.end();
    });
    client.resume();
    upstream.resume();
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

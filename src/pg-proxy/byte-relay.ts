/**
 * After login the proxy only moves bytes, in both directions, with backpressure. It sets no idle
 * or read timeout (long queries and quiet sessions live as long as the peers want; TCP keepalive,
 * set when each socket was opened, finds dead peers). In the server-to-client direction it counts
 * message lengths (nothing is decoded or copied) so that a shutdown notice can be placed between
 * two messages.
 *
 * With a PoolGate (session pooling), the relay also walks the client's message headers: when the
 * client sends Terminate at a message boundary, the Terminate is not forwarded, the client socket
 * is ended and the upstream connection is released (still open) for the pool to decide
 * on; `released` is then true and `closed` settles at once, without waiting for the client's
 * socket to close (it is closed as soon as everything queued for it is written).
 *
 * The relay is the upstream link's sink while it runs, and the client's FrameSocket hands it the
 * client socket's events through the listeners the login already had on it ('data', 'end',
 * 'close'; 'close' follows any error): a session adds no listener for the relay and removes none
 * when it releases the connection (events after that are ignored). A 'drain' listener is added
 * only while a side waits for one.
 */
import type { Socket } from 'node:net';
import { FrameBoundary } from '../core/pg/frame-boundary.js';
import { SHUTDOWN_NOTICE_GRACE_MS } from '../core/pg/pg-limits.js';
import type { PoolGate } from '../core/pg/pool-gate.js';
import type { ClientSink } from './frame-socket.js';
import type { UpstreamLink, UpstreamSink } from './upstream-link.js';

export interface RelayCounters {
  toUpstream: number;
  toClient: number;
}

/** A 'finish' listener: the socket's last bytes are written; nothing more is read from it. */
function destroyWhenFinished(this: Socket): void {
  this.destroy();
}

export class ByteRelay implements UpstreamSink, ClientSink {
  readonly counters: RelayCounters = { toUpstream: 0, toClient: 0 };
  /** Settles when the client socket is closed and the upstream socket is closed, or when the upstream connection is released. */
  readonly closed: Promise<void>;
  readonly #client: Socket;
  readonly #link: UpstreamLink;
  readonly #upstream: Socket;
  readonly #boundary = new FrameBoundary();
  readonly #gate: PoolGate | undefined;
  #settle: () => void = () => {};
  #notice: Buffer | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #released = false;
  #settled = false;
  #clientClosed = false;
  #upstreamClosed = false;
  /** The client is paused until the upstream socket drains, and the reverse. */
  #clientWaits = false;
  #upstreamWaits = false;

  readonly #onUpstreamDrain = () => {
    this.#clientWaits = false;
    this.#client.resume();
  };
  readonly #onClientDrain = () => {
    this.#upstreamWaits = false;
    this.#upstream.resume();
  };

  constructor(client: Socket, upstream: UpstreamLink, gate?: PoolGate) {
    this.#client = client;
    this.#link = upstream;
    this.#upstream = upstream.socket;
    this.#gate = gate;
    this.closed = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
  }

  /** True when the client terminated cleanly and the upstream socket was handed back open. */
  get released(): boolean {
    return this.#released;
  }

  /**
   * Starts moving bytes; `toUpstream`/`toClient` are bytes already read that belong to the other
   * side. The client socket's events come through clientData/clientEnd/clientClose from now on
   * (FrameSocket.handOver).
   */
  start(toUpstream: Buffer, toClient: Buffer): void {
    const client = this.#client;
    this.#link.attach(this);
    // Either side may be gone already (closed while the login finished): the other one is ended.
    if (this.#link.closed) this.upstreamClose();
    if (client.destroyed) this.clientClose();
    if (this.#clientClosed || this.#upstreamClosed) return;
    if (toClient.length > 0) this.#fromUpstream(toClient);
    if (toUpstream.length > 0) this.#fromClient(toUpstream);
    if (this.#released) return;
    // Each resume is a stream round (nextTick, 'resume' event): only for a socket that is paused.
    if (client.isPaused() && !this.#clientWaits) client.resume();
    if (this.#upstream.isPaused() && !this.#upstreamWaits) this.#upstream.resume();
  }

  clientData(chunk: Buffer): void {
    this.#fromClient(chunk);
  }

  // After a release the upstream connection is the pool's: the client's end and close are no longer the relay's to act on.
  clientEnd(): void {
    if (!this.#released) this.#upstream.end();
  }

  clientClose(): void {
    if (this.#released || this.#clientClosed) return;
    this.#clientClosed = true;
    this.#upstream.destroy();
    this.#check();
  }

  upstreamData(_link: UpstreamLink, chunk: Buffer): boolean {
    this.#fromUpstream(chunk);
    // A write that could not go out at once is queued with (a view of) the chunk.
    return this.#client.writableLength > 0;
  }

  // Either side ending ends the other once its pending writes are out; a close (error or not) destroys the other side.
  upstreamEnd(): void {
    this.#client.end();
  }

  upstreamClose(): void {
    this.#upstreamClosed = true;
    if (!this.#client.writableEnded) this.#client.end();
    this.#check();
  }

  #check(): void {
    if (this.#clientClosed && this.#upstreamClosed) this.#done();
  }

  #done(): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#graceTimer);
    this.#settle();
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
    if (!this.#upstream.write(chunk) && !this.#clientWaits) {
      this.#clientWaits = true;
      this.#client.pause();
      this.#upstream.once('drain', this.#onUpstreamDrain);
    }
  }

  /** The client sent Terminate: end it, and hand the upstream connection back without closing it. */
  #release(): void {
    this.#released = true;
    const client = this.#client;
    const upstream = this.#upstream;
    if (this.#upstreamWaits) client.off('drain', this.#onClientDrain);
    // A pooled socket must not keep a listener of this session. It is handed over flowing (the
    // pool takes it within this turn of the event loop); one paused for a slow client stays so.
    if (this.#clientWaits) upstream.off('drain', this.#onUpstreamDrain);
    this.#link.attach(undefined);
    // As PostgreSQL does on Terminate: close at once. Bytes still queued for a slow client are
    // written first (end, then destroy when finished).
    if (client.writableLength === 0) client.destroy();
    else {
      client.end();
      client.once('finish', destroyWhenFinished);
    }
    this.#done();
  }

  /**
   * Ends the session for a shutdown: `notice` (an ErrorResponse) is written at the next boundary
   * between server messages, then both sides close; a server stuck inside a message gets a
   * short grace before both sockets are dropped.
   */
  terminate(notice: Buffer): void {
    if (this.#notice || this.#released) return;
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
    if (!this.#client.write(chunk) && !this.#upstreamWaits) {
      this.#upstreamWaits = true;
      this.#upstream.pause();
      this.#client.once('drain', this.#onClientDrain);
    }
  }

  #finish(): void {
    clearTimeout(this.#graceTimer);
    this.#upstream.pause();
    this.#upstream.end();
    if (this.#notice) this.#client.end(this.#notice);
    else this.#client.end();
  }
}

/**
 * An upstream connection after login, for the rest of its life (one client, or many with session
 * pooling). Its socket's listeners are attached once, here, and each event goes to whoever holds
 * the connection now: a relay, the pool's reset, the pool's idle watch. Handing the connection on
 * is an assignment, not a round of `on`/`off` calls per session, and a pooled socket cannot
 * collect listeners however often it is reused. Once a relay has started it, the socket keeps
 * flowing for life (it is paused only while a client is slow to take what the server sends):
 * handovers happen within one turn of the event loop, so no event falls between two holders.
 */
import type { Socket } from 'node:net';
import type { UpstreamReads } from './upstream-reads.js';

/** Whoever holds an upstream connection receives its events. */
export interface UpstreamSink {
  /**
   * Bytes from the server. On a plain-TCP upstream `chunk` is a view of a buffer the socket reuses
   * (UpstreamReads): return true when something still refers to it after returning (a queued
   * write), so that the next read goes elsewhere.
   */
  upstreamData(link: UpstreamLink, chunk: Buffer): boolean;
  /** The server ended its side (FIN). */
  upstreamEnd(link: UpstreamLink): void;
  /** The socket closed: after an error, an end or a destroy. */
  upstreamClose(link: UpstreamLink): void;
}

/** Errors are followed by 'close', which is what the holders act on. */
const ignore = () => {};

export class UpstreamLink {
  readonly socket: Socket;
  #sink: UpstreamSink | undefined;
  #closed = false;

  /** `reads`: the socket was opened with them (plain TCP); its bytes come from there, not from 'data' events. */
  constructor(socket: Socket, reads: UpstreamReads | undefined) {
    this.socket = socket;
    if (reads) reads.readTo((view) => this.#data(view));
    else socket.on('data', (chunk: Buffer) => this.#data(chunk));
    socket.on('end', () => this.#sink?.upstreamEnd(this));
    socket.on('close', () => {
      this.#closed = true;
      this.#sink?.upstreamClose(this);
    });
    socket.on('error', ignore);
  }

  #data(chunk: Buffer): boolean {
    if (this.#sink) return this.#sink.upstreamData(this, chunk);
    // Nobody holds it, yet the server spoke: nobody can make sense of it, so the connection goes.
    this.socket.destroy();
    return false;
  }

  /** True once the socket closed or was destroyed. */
  get closed(): boolean {
    return this.#closed || this.socket.destroyed;
  }

  /** Gives the connection's events to `sink` from now on; undefined: to nobody (only within one turn of the event loop, or when closing). */
  attach(sink: UpstreamSink | undefined): void {
    this.#sink = sink;
  }

  /** True when `sink` holds the connection now. */
  heldBy(sink: UpstreamSink): boolean {
    return this.#sink === sink;
  }
}

const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);
/** How long a closing upstream connection may take to see the server's FIN before it is destroyed, in milliseconds. */
const CLOSE_GRACE_MS = 1000;

/** Ends an upstream connection politely: Terminate, then the FIN; destroyed after CLOSE_GRACE_MS. */
export function closeUpstream(link: UpstreamLink): void {
  link.attach(undefined);
  const socket = link.socket;
  if (socket.destroyed) return;
  socket.end(TERMINATE);
  if (socket.isPaused()) socket.resume(); // read (and drop) whatever the server still sends, so its FIN is seen
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/**
 * Reads whole protocol messages from a socket during login, one at a time. The socket is paused
 * as soon as bytes arrive that no read asked for, so a peer cannot make the proxy buffer more than
 * one message (bounded by the reader's limit) plus one chunk. It is not paused after each read
 * that got what it asked for: a pause and a resume cost a stream round (a nextTick, a 'resume'
 * event) each, several times per connection otherwise. `detach()` hands the socket (flowing or
 * paused; callers check) and any unread bytes on (to a TLS upgrade, or an upstream link);
 * `handOver()` gives a client socket's later events to the relay through the listeners already in
 * place, so a session adds and removes the client's listeners once, not once per phase.
 */
import type { Socket } from 'node:net';
import type { Frame, MessageReader } from '../core/pg/message-reader.js';
import type { UpstreamReads } from './upstream-reads.js';

/** The peer closed or reset the connection while a message was expected (internal: nobody to tell). */
export class PeerClosedError extends Error {
  constructor(peer: string, cause?: unknown) {
    super(`the ${peer} closed the connection`, cause === undefined ? undefined : { cause });
    this.name = 'PeerClosedError';
  }
}

/** Whoever takes a client socket's events after login (the relay). */
export interface ClientSink {
  clientData(chunk: Buffer): void;
  /** The client ended its side (FIN). */
  clientEnd(): void;
  /** The socket closed: after an error, an end or a destroy. */
  clientClose(): void;
}

interface Waiter {
  readonly take: () => Buffer | Frame | undefined;
  readonly resolve: (value: Buffer | Frame) => void;
  readonly reject: (error: unknown) => void;
}

export class FrameSocket {
  readonly socket: Socket;
  readonly reader: MessageReader;
  /** The socket's reads when it was opened with them (a plain-TCP upstream): its bytes come from there. */
  readonly reads: UpstreamReads | undefined;
  readonly #peer: string;
  #waiter: Waiter | undefined;
  #failure: unknown;
  #detached = false;
  /** Set by handOver: the socket's events go there from then on. */
  #sink: ClientSink | undefined;

  readonly #onData = (chunk: Buffer) => {
    if (this.#sink) {
      this.#sink.clientData(chunk);
      return;
    }
    this.reader.push(chunk);
    this.#serve();
  };
  readonly #onEnd = () => {
    if (this.#sink) this.#sink.clientEnd();
    else this.#fail(new PeerClosedError(this.#peer));
  };
  readonly #onClose = () => {
    if (this.#sink) this.#sink.clientClose();
    else this.#fail(new PeerClosedError(this.#peer));
  };
  /** A 'close' follows every error: after handOver that is what the sink acts on. */
  readonly #onError = (error: Error) => {
    if (!this.#sink) this.#fail(new PeerClosedError(this.#peer, error));
  };

  constructor(socket: Socket, reader: MessageReader, peer: string, reads?: UpstreamReads) {
    this.socket = socket;
    this.reader = reader;
    this.reads = reads;
    this.#peer = peer;
    // A socket nobody read yet starts flowing with this listener; a paused one stays paused until a read waits.
    // Read bytes are copied: the reader keeps messages, and the socket reuses its buffer.
    if (reads) {
      reads.readTo((view) => {
        this.#onData(Buffer.from(view));
        return false;
      });
    } else socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
  }

  /** The next whole message. */
  read(): Promise<Frame> {
    return this.#wait(() => this.reader.next()) as Promise<Frame>;
  }

  /** Exactly `count` raw bytes (the answer to SSLRequest). */
  readBytes(count: number): Promise<Buffer> {
    return this.#wait(() => this.reader.takeBytes(count)) as Promise<Buffer>;
  }

  write(data: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Makes the pending and every later read fail with `error` (a phase's time limit, a shutdown). */
  abort(error: unknown): void {
    this.#fail(error);
  }

  /** Stops reading messages; returns the bytes received but not yet read. The socket is left as it is (flowing or paused). */
  detach(): Buffer {
    this.#detached = true;
    if (this.reads) this.reads.readTo(undefined);
    else this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onClose);
    this.socket.off('error', this.#onError);
    return this.reader.drain();
  }

  /**
   * Stops reading messages and sends the socket's events to `sink` from now on, through the
   * listeners already on it (no listener is removed or added); returns the bytes received but not
   * yet read. The socket is left as it is (flowing or paused).
   */
  handOver(sink: ClientSink): Buffer {
    this.#detached = true;
    this.#sink = sink;
    return this.reader.drain();
  }

  #wait(take: Waiter['take']): Promise<Buffer | Frame> {
    if (this.#detached) return Promise.reject(new Error('read after detach'));
    if (this.#waiter) return Promise.reject(new Error('concurrent reads on one connection'));
    return new Promise((resolve, reject) => {
      this.#waiter = { take, resolve, reject };
      this.#serve();
      if (this.#waiter && this.socket.isPaused()) this.socket.resume();
    });
  }

  #serve(): void {
    const waiter = this.#waiter;
    if (!waiter) {
      // Bytes nobody asked for yet: hold them, and read no more until someone does.
      this.socket.pause();
      return;
    }
    let value: Buffer | Frame | undefined;
    try {
      value = waiter.take();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (value !== undefined) {
      this.#waiter = undefined;
      waiter.resolve(value);
      return;
    }
    if (this.#failure !== undefined) {
      this.#waiter = undefined;
      waiter.reject(this.#failure);
    }
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    const waiter = this.#waiter;
    if (!waiter) return;
    this.#waiter = undefined;
    waiter.reject(this.#failure);
  }
}

/**
 * Reads whole protocol messages from a socket during login, one at a time: the socket stays
 * paused unless a read is waiting, so a peer cannot make the proxy buffer more than one message
 * (bounded by the reader's limit) plus one chunk. `detach()` hands the socket and any unread
 * bytes to the relay.
 */
import type { Socket } from 'node:net';
import type { Frame, MessageReader } from '../core/pg/message-reader.js';

/** The peer closed or reset the connection while a message was expected (internal: nobody to tell). */
export class PeerClosedError extends Error {
  constructor(peer: string, cause?: unknown) {
    super(`the ${peer} closed the connection`, cause === undefined ? undefined : { cause });
    this.name = 'PeerClosedError';
  }
}

interface Waiter {
  readonly take: () => Buffer | Frame | undefined;
  readonly resolve: (value: Buffer | Frame) => void;
  readonly reject: (error: unknown) => void;
}

export class FrameSocket {
  readonly socket: Socket;
  readonly reader: MessageReader;
  readonly #peer: string;
  #waiter: Waiter | undefined;
  #failure: unknown;
  #detached = false;

  readonly #onData = (chunk: Buffer) => {
    this.reader.push(chunk);
    this.#serve();
  };
  readonly #onEnd = () => this.#fail(new PeerClosedError(this.#peer));
  readonly #onError = (error: Error) => this.#fail(new PeerClosedError(this.#peer, error));

  constructor(socket: Socket, reader: MessageReader, peer: string) {
    this.socket = socket;
    this.reader = reader;
    this.#peer = peer;
    socket.pause();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
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

  /** Makes the pending and every later read fail with `error` (a phase timer, a shutdown). */
  abort(error: unknown): void {
    this.#fail(error);
  }

  /** Stops reading messages; returns the bytes received but not yet read. The socket stays paused. */
  detach(): Buffer {
    this.#detached = true;
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onEnd);
    this.socket.off('error', this.#onError);
    return this.reader.drain();
  }

  #wait(take: Waiter['take']): Promise<Buffer | Frame> {
    if (this.#detached) return Promise.reject(new Error('read after detach'));
    if (this.#waiter) return Promise.reject(new Error('concurrent reads on one connection'));
    return new Promise((resolve, reject) => {
      this.#waiter = { take, resolve, reject };
      this.#serve();
      if (this.#waiter) this.socket.resume();
    });
  }

  #serve(): void {
    const waiter = this.#waiter;
    if (!waiter) {
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
      this.socket.pause();
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

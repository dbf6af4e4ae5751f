/**
 * Incremental framing of protocol messages: bytes go in as they arrive (split anywhere), whole
 * frames come out. Two framings: the untyped first packet (Int32 length, then code and body) and
 * typed messages (Byte1 type, Int32 length, body). A length outside the limit is refused as soon
 * as its header is seen, before the body is buffered.
 */

import { MIN_STARTUP_PACKET_BYTES } from './pg-limits.js';
import { PgPeerError } from './pg-peer-error.js';

/** One whole message. `body` excludes the header; `raw` is the message exactly as received. */
export interface Frame {
  /** The type byte, or UNTYPED for a first packet. */
  readonly type: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

export const UNTYPED = -1;
const EMPTY = Buffer.alloc(0);

export interface MessageReaderOptions {
  /** Largest message accepted, header included, in bytes. */
  readonly maxMessageBytes: number;
  /** Start with the untyped first-packet framing. */
  readonly startup?: boolean;
  /** Names the peer in messages ("client", "server"). */
  readonly peer?: string;
}

export class MessageReader {
  #buffer: Buffer = EMPTY;
  #untyped: boolean;
  #max: number;
  readonly #peer: string;

  constructor(options: MessageReaderOptions) {
    this.#max = options.maxMessageBytes;
    this.#untyped = options.startup ?? false;
    this.#peer = options.peer ?? 'peer';
  }

  /** Bytes held that are not yet part of a returned frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** From the startup packet on to typed messages, with their own limit (the same reader and buffer, not a new one). */
  expectTyped(maxMessageBytes: number): void {
    this.#untyped = false;
    this.#max = maxMessageBytes;
  }

  /** The next whole frame, or undefined until more bytes arrive; throws a PgPeerError on a bad length. */
  next(): Frame | undefined {
    const headerBytes = this.#untyped ? 4 : 5;
    if (this.#buffer.length < headerBytes) return undefined;
    const length = this.#buffer.readInt32BE(this.#untyped ? 0 : 1);
    const total = this.#untyped ? length : length + 1;
    const min = this.#untyped ? MIN_STARTUP_PACKET_BYTES : 4;
    if (length < min) {
      throw new PgPeerError('PG_PROTOCOL_VIOLATION', `invalid message length ${length} from the ${this.#peer}`);
    }
    if (total > this.#max) {
      throw new PgPeerError(
        'PG_PROTOCOL_VIOLATION',
        `${this.#untyped ? 'startup packet' : 'message'} of ${total} bytes from the ${this.#peer} exceeds the limit of ${this.#max} bytes`,
      );
    }
    if (this.#buffer.length < total) return undefined;
    const raw = this.#buffer.subarray(0, total);
    this.#buffer = this.#buffer.length === total ? EMPTY : this.#buffer.subarray(total);
    return this.#untyped ? { type: UNTYPED, body: raw.subarray(4), raw } : { type: raw[0] as number, body: raw.subarray(5), raw };
  }

  /** Exactly `count` raw bytes (the one-byte SSLRequest answer), or undefined until they arrive. */
  takeBytes(count: number): Buffer | undefined {
    if (this.#buffer.length < count) return undefined;
    const out = this.#buffer.subarray(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return out;
  }

  /** Hands over every byte not yet returned (for the relay) and empties the reader. */
  drain(): Buffer {
    const out = this.#buffer;
    this.#buffer = EMPTY;
    return out;
  }
}

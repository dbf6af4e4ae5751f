/**
 * Decides, while a session is relayed, whether its upstream connection may be pooled when the
 * client leaves. It walks message headers in both directions (type byte and length; the payload
 * is skipped, except the one status byte of ReadyForQuery) and keeps a few counters:
 *
 * - client -> server: finds Terminate ('X') at a message boundary; counts the messages that the
 *   server answers with a ReadyForQuery (Query, Sync, FunctionCall) and notes extended-protocol
 *   messages not yet followed by a Sync;
 * - server -> client: counts ReadyForQuery messages, remembers the last message type and the
 *   last transaction status; ErrorResponse, COPY, NotificationResponse or a malformed header
 *   taint the connection for good.
 *
 * A connection is reusable only when the client's Terminate comes at a boundary, every request
 * was answered, the last server message was ReadyForQuery with status idle ('I'), both streams
 * are at a boundary and nothing tainted it.
 */
const HEADER_BYTES = 5;

const Z = 0x5a; // ReadyForQuery
const TX_IDLE = 0x49; // 'I'
const TERMINATE = 0x58; // 'X'
/** Client messages the server answers with exactly one ReadyForQuery. */
const CLIENT_SYNC_POINTS = new Set([0x51 /* Q */, 0x53 /* S Sync */, 0x46 /* F FunctionCall */]);
/** Client messages of COPY: a session that used COPY is not reused. */
const CLIENT_TAINT = new Set([0x64 /* d */, 0x63 /* c */, 0x66 /* f */]);
/** Server messages after which a connection is not reused: errors, COPY, LISTEN/NOTIFY traffic. */
const SERVER_TAINT = new Set([0x45 /* E */, 0x47 /* G */, 0x48 /* H */, 0x57 /* W */, 0x41 /* A */, 0x64 /* d */, 0x63 /* c */]);

/** Header walker for one direction; calls `onType` with each message's type byte as it starts. */
class HeaderWalker {
  remaining = 0;
  readonly #header = Buffer.alloc(HEADER_BYTES);
  #seen = 0;
  bad = false;

  get atBoundary(): boolean {
    return this.remaining === 0 && this.#seen === 0;
  }

  /**
   * Walks a chunk. `onType(type, offset)` runs when a message's type byte is seen at `offset`
   * and may return false to stop the walk there (the offset is returned). `onBody(first)` gets
   * the first payload byte of a message whose type asked for it. Returns -1 when the whole
   * chunk was walked.
   */
  walk(
    chunk: Buffer,
    onType: (type: number, offset: number) => boolean,
    wantFirstByte?: (type: number) => boolean,
    onFirst?: (byte: number) => void,
  ): number {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        if (this.#wantFirst) {
          this.#wantFirst = false;
          onFirst?.(chunk[at] as number);
        }
        const take = Math.min(this.remaining, chunk.length - at);
        this.remaining -= take;
        at += take;
        continue;
      }
      if (this.#seen === 0 && !onType(chunk[at] as number, at)) return at;
      const take = Math.min(HEADER_BYTES - this.#seen, chunk.length - at);
      chunk.copy(this.#header, this.#seen, at, at + take);
      this.#seen += take;
      at += take;
      if (this.#seen === HEADER_BYTES) {
        this.#seen = 0;
        const length = this.#header.readInt32BE(1);
        if (length < 4) this.bad = true;
        this.remaining = Math.max(0, length - 4);
        this.#wantFirst = this.remaining > 0 && (wantFirstByte?.(this.#header[0] as number) ?? false);
      }
    }
    return -1;
  }

  #wantFirst = false;
}

export class PoolGate {
  readonly #client = new HeaderWalker();
  readonly #server = new HeaderWalker();
  /** Sync points sent minus ReadyForQuery received. */
  #pending = 0;
  /** Extended-protocol messages sent since the last sync point. */
  #unsynced = false;
  #lastServerType = Z;
  #lastStatus = TX_IDLE;
  #tainted = false;
  #terminated = false;

  /** True once the client sent Terminate at a message boundary. */
  get terminated(): boolean {
    return this.#terminated;
  }

  /** Feeds client bytes; returns the offset of a Terminate at a boundary (bytes from there on must not be forwarded), or -1. */
  client(chunk: Buffer): number {
    if (this.#terminated) return 0;
    const stop = this.#client.walk(chunk, (type) => {
      if (type === TERMINATE) {
        this.#terminated = true;
        return false;
      }
      if (CLIENT_SYNC_POINTS.has(type)) {
        this.#pending++;
        this.#unsynced = false;
      } else {
        if (CLIENT_TAINT.has(type)) this.#tainted = true;
        this.#unsynced = true;
      }
      return true;
    });
    if (this.#client.bad) this.#tainted = true;
    return stop;
  }

  /** Feeds server bytes (all of them; nothing is withheld). */
  server(chunk: Buffer): void {
    this.#server.walk(
      chunk,
      (type) => {
        this.#lastServerType = type;
        if (type === Z) this.#pending--;
        else if (SERVER_TAINT.has(type)) this.#tainted = true;
        return true;
      },
      (type) => type === Z,
      (status) => {
        this.#lastStatus = status;
      },
    );
    if (this.#server.bad) this.#tainted = true;
  }

  /** Whether the upstream connection can be reset and parked now. */
  get reusable(): boolean {
    return (
      this.#terminated &&
      !this.#tainted &&
      this.#pending === 0 &&
      !this.#unsynced &&
      this.#lastServerType === Z &&
      this.#lastStatus === TX_IDLE &&
      this.#server.atBoundary
    );
  }
}

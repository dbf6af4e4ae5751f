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
 *
 * This runs on every relayed chunk, so the walks are written out for each direction (no
 * callback per message, no closure per chunk) and read a header in place when the chunk holds all
 * of it; a header split across chunks is assembled byte by byte into a number (no buffer per
 * session).
 */
const HEADER_BYTES = 5;

const Z = 0x5a; // ReadyForQuery
const TX_IDLE = 0x49; // 'I'
const TERMINATE = 0x58; // 'X'

/** A 256-entry table of message types: a lookup by type byte, no hashing. */
function typeTable(types: readonly number[]): Uint8Array {
  const table = new Uint8Array(256);
  for (const type of types) table[type] = 1;
  return table;
}

/** Client messages the server answers with exactly one ReadyForQuery. */
const CLIENT_SYNC_POINTS = typeTable([0x51 /* Q */, 0x53 /* S Sync */, 0x46 /* F FunctionCall */]);
/** Client messages of COPY: a session that used COPY is not reused. */
const CLIENT_TAINT = typeTable([0x64 /* d */, 0x63 /* c */, 0x66 /* f */]);
/** Server messages after which a connection is not reused: errors, COPY, LISTEN/NOTIFY traffic. */
const SERVER_TAINT = typeTable([0x45 /* E */, 0x47 /* G */, 0x48 /* H */, 0x57 /* W */, 0x41 /* A */, 0x64 /* d */, 0x63 /* c */]);

export class PoolGate {
  /** Sync points sent minus ReadyForQuery received. */
  #pending = 0;
  /** Extended-protocol messages sent since the last sync point. */
  #unsynced = false;
  #lastServerType = Z;
  #lastStatus = TX_IDLE;
  #tainted = false;
  #terminated = false;

  // Client stream: payload bytes left of the current message; header bytes seen of a split
  // header and the length bytes read so far.
  #clientRemaining = 0;
  #clientSeen = 0;
  #clientLength = 0;
  // Server stream, the same, the type of a split header, and whether the next payload byte is a ReadyForQuery status.
  #serverRemaining = 0;
  #serverSeen = 0;
  #serverLength = 0;
  #serverType = 0;
  #wantStatus = false;

  /** True once the client sent Terminate at a message boundary. */
  get terminated(): boolean {
    return this.#terminated;
  }

  /** Feeds client bytes; returns the offset of a Terminate at a boundary (bytes from there on must not be forwarded), or -1. */
  client(chunk: Buffer): number {
    if (this.#terminated) return 0;
    const length = chunk.length;
    let at = 0;
    while (at < length) {
      if (this.#clientRemaining > 0) {
        const take = Math.min(this.#clientRemaining, length - at);
        this.#clientRemaining -= take;
        at += take;
        continue;
      }
      if (this.#clientSeen === 0) {
        const type = chunk[at] as number;
        if (type === TERMINATE) {
          this.#terminated = true;
          return at;
        }
        if (CLIENT_SYNC_POINTS[type] === 1) {
          this.#pending++;
          this.#unsynced = false;
        } else {
          if (CLIENT_TAINT[type] === 1) this.#tainted = true;
          this.#unsynced = true;
        }
        if (length - at >= HEADER_BYTES) {
          this.#clientRemaining = this.#payload(chunk.readInt32BE(at + 1));
          at += HEADER_BYTES;
          continue;
        }
      }
      // A header split across chunks: one byte at a time (the type byte was handled above).
      if (this.#clientSeen > 0) this.#clientLength = this.#clientLength * 256 + (chunk[at] as number);
      else this.#clientLength = 0;
      this.#clientSeen++;
      at++;
      if (this.#clientSeen === HEADER_BYTES) {
        this.#clientSeen = 0;
        this.#clientRemaining = this.#payload(this.#clientLength | 0);
      }
    }
    return -1;
  }

  /** Feeds server bytes (all of them; nothing is withheld). */
  server(chunk: Buffer): void {
    const length = chunk.length;
    let at = 0;
    while (at < length) {
      if (this.#serverRemaining > 0) {
        if (this.#wantStatus) {
          this.#wantStatus = false;
          this.#lastStatus = chunk[at] as number;
        }
        const take = Math.min(this.#serverRemaining, length - at);
        this.#serverRemaining -= take;
        at += take;
        continue;
      }
      if (this.#serverSeen === 0) {
        const type = chunk[at] as number;
        this.#lastServerType = type;
        if (type === Z) this.#pending--;
        else if (SERVER_TAINT[type] === 1) this.#tainted = true;
        if (length - at >= HEADER_BYTES) {
          this.#serverRemaining = this.#payload(chunk.readInt32BE(at + 1));
          this.#wantStatus = type === Z && this.#serverRemaining > 0;
          at += HEADER_BYTES;
          continue;
        }
      }
      if (this.#serverSeen > 0) this.#serverLength = this.#serverLength * 256 + (chunk[at] as number);
      else {
        this.#serverType = chunk[at] as number;
        this.#serverLength = 0;
      }
      this.#serverSeen++;
      at++;
      if (this.#serverSeen === HEADER_BYTES) {
        this.#serverSeen = 0;
        this.#serverRemaining = this.#payload(this.#serverLength | 0);
        this.#wantStatus = this.#serverType === Z && this.#serverRemaining > 0;
      }
    }
  }

  /** Payload bytes after a header's length field; a length below 4 is malformed and taints the connection. */
  #payload(declared: number): number {
    if (declared < 4) {
      this.#tainted = true;
      return 0;
    }
    return declared - 4;
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
      this.#serverRemaining === 0 &&
      this.#serverSeen === 0
    );
  }
}

/**
 * Tracks where messages end in a byte stream without decoding them (only type and length
 * headers are counted, nothing is copied), so the relay can place a shutdown notice between two
 * server messages instead of inside one.
 */
const HEADER_BYTES = 5;

export class FrameBoundary {
  /** Bytes left of the current message body; 0 at a boundary. */
  #remaining = 0;
  /** Header bytes seen of a header split across chunks. */
  #header = Buffer.alloc(HEADER_BYTES);
  #headerSeen = 0;

  /** True when the bytes so far end exactly at a message boundary. */
  get atBoundary(): boolean {
    return this.#remaining === 0 && this.#headerSeen === 0;
  }

  /**
   * Feeds a chunk. With `stopAtBoundary`, returns how many bytes of the chunk complete the
   * current message (0 when already at a boundary); otherwise consumes the whole chunk.
   */
  feed(chunk: Buffer, stopAtBoundary = false): number {
    let at = 0;
    while (at < chunk.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, chunk.length - at);
        this.#remaining -= take;
        at += take;
        if (this.#remaining === 0 && stopAtBoundary) return at;
        continue;
      }
      if (stopAtBoundary && this.#headerSeen === 0) return at;
      const take = Math.min(HEADER_BYTES - this.#headerSeen, chunk.length - at);
      chunk.copy(this.#header, this.#headerSeen, at, at + take);
      this.#headerSeen += take;
      at += take;
      if (this.#headerSeen === HEADER_BYTES) {
        this.#headerSeen = 0;
        this.#remaining = Math.max(0, this.#header.readInt32BE(1) - 4);
        if (this.#remaining === 0 && stopAtBoundary) return at;
      }
    }
    return at;
  }
}

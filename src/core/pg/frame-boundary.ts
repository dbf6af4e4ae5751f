/**
 * Tracks where messages end in a byte stream without decoding them (only type and length
 * headers are counted, nothing is copied; a header split across chunks is assembled into a
 * number), so the relay can place a shutdown notice between two server messages instead of
 * inside one.
 */
const HEADER_BYTES = 5;

export class FrameBoundary {
  /** Bytes left of the current message body; 0 at a boundary. */
  #remaining = 0;
  /** Header bytes seen of a header split across chunks, and its length bytes so far. */
  #headerSeen = 0;
  #length = 0;

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
      if (this.#headerSeen === 0) {
        if (stopAtBoundary) return at;
        // The whole header is in this chunk: read its length in place.
        if (chunk.length - at >= HEADER_BYTES) {
          this.#remaining = Math.max(0, chunk.readInt32BE(at + 1) - 4);
          at += HEADER_BYTES;
          continue;
        }
      }
      // One byte of a split header (the first is the type byte, which is not needed).
      this.#length = this.#headerSeen === 0 ? 0 : this.#length * 256 + (chunk[at] as number);
      this.#headerSeen++;
      at++;
      if (this.#headerSeen === HEADER_BYTES) {
        this.#headerSeen = 0;
        this.#remaining = Math.max(0, (this.#length | 0) - 4);
        if (this.#remaining === 0 && stopAtBoundary) return at;
      }
    }
    return at;
  }
}

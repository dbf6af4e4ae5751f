/**
 * A plain-TCP upstream socket is read with net's `onread` option: the kernel's bytes land in one
 * buffer the socket reuses, and a callback gets them, without the stream machinery each read
 * otherwise goes through (a Buffer object, Readable.push, the 'data' event). A pgbench -C
 * connection reads its upstream twice (the query's answer, the reset's answer); a persistent
 * session once per query. A TLS upstream reads through its TLSSocket and does not use this.
 *
 * The bytes handed on are a view of the reused buffer, valid until the callback returns. A reader
 * that still holds them afterwards (a relay whose write to the client is queued, a parser with a
 * partial message) says so, and the next read goes into a new buffer; whatever it keeps stays
 * intact. During login, and in the moment between login and the connection's link, bytes are
 * copied (the login's reader keeps messages).
 */

/** Bytes one read may take: the size Node reads a socket in by default. */
export const UPSTREAM_READ_BYTES = 64 * 1024; // 64 KiB

/** Takes a view of what was read; returns true when it still refers to the view after returning. */
export type ReadTarget = (view: Buffer) => boolean;

export class UpstreamReads {
  #buffer: Buffer | undefined;
  #target: ReadTarget | undefined;
  /** Copies of what was read while nobody was reading. */
  #waiting: Buffer[] = [];

  /** For net.connect: where each read goes, and the buffer for the next one. */
  readonly onread = {
    buffer: (): Buffer => {
      this.#buffer ??= Buffer.allocUnsafe(UPSTREAM_READ_BYTES);
      return this.#buffer;
    },
    callback: (bytes: number, buffer: Buffer): boolean => {
      const view = buffer.subarray(0, bytes);
      const target = this.#target;
      if (target === undefined) this.#waiting.push(Buffer.from(view));
      else if (target(view)) this.#buffer = undefined; // kept: the next read gets a new buffer
      return true;
    },
  };

  /** Sends every later read to `target` (first what arrived while nobody read). */
  readTo(target: ReadTarget | undefined): void {
    this.#target = target;
    if (target === undefined || this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    // Copies: the target may keep them without saying so.
    for (const chunk of waiting) target(chunk);
  }
}

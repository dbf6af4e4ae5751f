/**
 * The daemon's log destination: lines are encoded straight into one preallocated buffer and
 * written to the file descriptor with a synchronous write once it is full, on a timer, and at
 * exit. No libuv threadpool round trip, no string concatenation, no copy per line.
 *
 * Why not pino.destination (SonicBoom) in async mode: each of its writes is a threadpool job whose
 * wake-ups and string re-encodings cost the credential endpoint a noticeable share of each
 * request under load. Synchronous writes of 64 KiB are a few hundred syscalls a
 * second and keep lines in order with nothing in flight at exit.
 *
 * When the descriptor is a non-blocking pipe whose reader is behind (EAGAIN), the unwritten bytes
 * wait in a backlog and are retried on a short timer; the request path never spins. Past
 * LOG_MAX_BACKLOG_BYTES further chunks are dropped and counted, and one warning line says how many
 * bytes were lost once the reader catches up: memory stays bounded when nobody reads the logs.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** Bytes buffered before a write: one syscall per ~200 audit lines. */
export const LOG_BUFFER_BYTES = 64 * 1024; // 64 KiB
/** The longest a buffered line waits before it is written. */
export const LOG_FLUSH_INTERVAL_MS = 200;
/** How soon a write the descriptor refused (EAGAIN) is retried. */
export const LOG_RETRY_MS = 20;
/** Most bytes kept while the reader is behind; beyond this whole chunks are dropped and counted. */
export const LOG_MAX_BACKLOG_BYTES = 8 * 1024 * 1024; // 8 MiB
/** At exit, how long a reader that is behind is waited for before the rest is given up. */
export const LOG_EXIT_WAIT_MS = 2_000;

/** Longest tail `writeParts` copies char by char. */
const MAX_COPIED_TAIL_CHARS = 64;

/** Largest expansion of one UTF-16 code unit in UTF-8 (a surrogate pair is 2 units, 4 bytes). */
const MAX_UTF8_BYTES_PER_UNIT = 3;

function isRetryable(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBUSY';
}

export class FdLineWriter {
  readonly #fd: number;
  readonly #ownsFd: boolean;
  readonly #buffer = Buffer.allocUnsafe(LOG_BUFFER_BYTES);
  #used = 0;
  /** Chunks refused by the descriptor (EAGAIN), oldest first; the first may be partly written. */
  readonly #backlog: Buffer[] = [];
  #backlogBytes = 0;
  #droppedBytes = 0;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  /** `dest`: a file descriptor (stdout by default) or a path, opened for appending with mode 0600. */
  constructor(dest: number | string = 1) {
    this.#ownsFd = typeof dest === 'string';
    this.#fd = typeof dest === 'string' ? openSync(dest, 'a', 0o600) : dest;
  }

  /** Buffers one line (pino hands over complete lines, each ending in a newline). */
  write(line: string): boolean {
    if (this.#closed) return true;
    if (line.length * MAX_UTF8_BYTES_PER_UNIT > LOG_BUFFER_BYTES - this.#used) {
      this.#drain();
      if (line.length * MAX_UTF8_BYTES_PER_UNIT > LOG_BUFFER_BYTES) {
        this.#send(Buffer.from(line, 'utf8'), true);
        return true;
      }
    }
    this.#used += this.#buffer.write(line, this.#used, 'utf8');
    return true;
  }

  /**
   * Buffers one line made of two encoded parts and an ASCII tail that ends it (a hot path's line
   * whose head and body repeat: it keeps them encoded and copies them, with no string built).
   * The whole line goes into the buffer, or is written after what is buffered: never cut in two.
   */
  writeParts(first: Uint8Array, second: Uint8Array, tail: string): void {
    if (this.#closed) return;
    const size = first.length + second.length + tail.length * MAX_UTF8_BYTES_PER_UNIT;
    if (size > LOG_BUFFER_BYTES - this.#used) {
      this.#drain();
      if (size > LOG_BUFFER_BYTES) {
        this.#send(Buffer.concat([first, second, Buffer.from(tail, 'utf8')]), true);
        return;
      }
    }
    const buffer = this.#buffer;
    let used = this.#used;
    buffer.set(first, used);
    used += first.length;
    buffer.set(second, used);
    used += second.length;
    // A short ASCII tail is copied char by char: cheaper than a call into the encoder.
    if (tail.length <= MAX_COPIED_TAIL_CHARS) {
      const start = used;
      for (let i = 0; i < tail.length; i++) {
        const code = tail.charCodeAt(i);
        if (code >= 0x80) {
          used = start + buffer.write(tail, start, 'utf8');
          break;
        }
        buffer[used++] = code;
      }
    } else {
      used += buffer.write(tail, used, 'utf8');
    }
    this.#used = used;
  }

  /** Writes what is buffered now; `cb` runs once it is handed to the descriptor (or kept in the backlog). */
  flush(cb?: (error?: Error) => void): void {
    this.#drain();
    if (cb) process.nextTick(cb);
  }

  /** Writes everything, waiting up to LOG_EXIT_WAIT_MS for a reader that is behind (exit, fatal errors). */
  flushSync(): void {
    this.#drain();
    const deadline = Date.now() + LOG_EXIT_WAIT_MS;
    while (this.#backlog.length > 0 && Date.now() < deadline) {
      if (!this.#writeBacklog()) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOG_RETRY_MS);
    }
  }

  /** Flushes and stops writing (the descriptor is closed when this writer opened it). */
  close(): void {
    this.flushSync();
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#ownsFd) closeSync(this.#fd);
  }

  /** Bytes dropped because the reader stayed behind past LOG_MAX_BACKLOG_BYTES, not yet reported in the log. */
  get droppedBytes(): number {
    return this.#droppedBytes;
  }

  #drain(): void {
    if (this.#used === 0) return;
    const used = this.#used;
    this.#used = 0;
    // The buffer is reused at once, so whatever the descriptor does not take now is copied.
    this.#send(this.#buffer.subarray(0, used), false);
  }

  /** Writes `chunk` after anything still waiting; `owned` when the caller will not reuse its memory. */
  #send(chunk: Buffer, owned: boolean): void {
    if (this.#backlog.length === 0 || this.#writeBacklog()) {
      const written = this.#writeSome(chunk);
      if (written === chunk.length) return;
      // The rest of a partly written chunk is always kept: a line is never cut in two.
      this.#keep(chunk.subarray(written), owned);
    } else if (this.#backlogBytes + chunk.length > LOG_MAX_BACKLOG_BYTES) {
      this.#droppedBytes += chunk.length;
    } else {
      this.#keep(chunk, owned);
    }
    this.#scheduleRetry();
  }

  #keep(chunk: Buffer, owned: boolean): void {
    this.#backlog.push(owned ? chunk : Buffer.from(chunk));
    this.#backlogBytes += chunk.length;
  }

  /** Bytes of `chunk` the descriptor took (fewer when it refused with EAGAIN); other errors discard the chunk. */
  #writeSome(chunk: Buffer): number {
    let offset = 0;
    while (offset < chunk.length) {
      try {
        offset += writeSync(this.#fd, chunk, offset, chunk.length - offset);
      } catch (error) {
        if (isRetryable(error)) return offset;
        // The descriptor is gone (EPIPE, EBADF): there is nowhere to log to, and nobody to tell.
        return chunk.length;
      }
    }
    return offset;
  }

  /** Writes the backlog in order, then the notice of any drops; true when nothing is left waiting. */
  #writeBacklog(): boolean {
    while (this.#backlog.length > 0) {
      const head = this.#backlog[0] as Buffer;
      const written = this.#writeSome(head);
      this.#backlogBytes -= written;
      if (written < head.length) {
        this.#backlog[0] = head.subarray(written);
        return false;
      }
      this.#backlog.shift();
    }
    if (this.#droppedBytes === 0) return true;
    const notice = Buffer.from(
      `{"level":"warn","time":"${new Date().toISOString()}","msg":"log output was blocked: ${this.#droppedBytes} bytes of log lines were dropped"}\n`,
      'utf8',
    );
    this.#droppedBytes = 0;
    const written = this.#writeSome(notice);
    if (written === notice.length) return true;
    this.#keep(notice.subarray(written), true);
    return false;
  }

  #scheduleRetry(): void {
    if (this.#retry || this.#closed) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#writeBacklog()) this.#scheduleRetry();
    }, LOG_RETRY_MS);
    this.#retry.unref();
  }
}

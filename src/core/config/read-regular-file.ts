/**
 * Reads a small file that someone else may have put in place (a `${fromFile:}` target, a token
 * file, a service file): only a regular file, never more than the limit plus one byte. The open
 * is non-blocking, so a FIFO or a device in its place is refused at once instead of freezing the
 * daemon until something writes to it, and a huge or endless source is never read into memory.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Why a file was not read: an errno code (ENOENT, EACCES...) or a sentence. Never the content. */
export class FileRefused extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'FileRefused';
    this.reason = reason;
  }
}

/** Reads `path` whole, or throws FileRefused when it is missing, not a regular file or over `maxBytes`. */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw new FileRefused((error as NodeJS.ErrnoException).code ?? 'open failed', { cause: error });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new FileRefused('not a regular file');
    if (stat.size > maxBytes) throw new FileRefused(`larger than ${maxBytes} bytes`);
    // Room for one byte past the limit, so a file that grew since fstat is still caught.
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
    }
    if (length > maxBytes) throw new FileRefused(`larger than ${maxBytes} bytes`);
    return Buffer.from(buffer.subarray(0, length));
  } catch (error) {
    if (error instanceof FileRefused) throw error;
    throw new FileRefused((error as NodeJS.ErrnoException).code ?? 'read failed', { cause: error });
  } finally {
    closeSync(fd);
  }
}

/**
 * Where a payload comes from on the command line: stdin (preferred), --payload-location FILE, or
 * --payload (warned about: it lands in shell history and in `ps` for every user to read).
 */
import { readFileSync } from 'node:fs';
import { SidekeyError } from '../../core/errors.js';
import { MAX_PAYLOAD_BYTES } from '../../core/secrets/secret-limits.js';

export interface PayloadFlags {
  readonly payload?: string;
  readonly payloadLocation?: string;
}

export const PAYLOAD_FLAG_WARNING =
  'sidekey: warning: --payload puts the secret in your shell history and in the process list; prefer stdin or --payload-location FILE\n';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length;
    // Read one byte past the limit so the service reports the real problem (413) rather than truncating.
    if (size > MAX_PAYLOAD_BYTES * 4) throw new SidekeyError('PAYLOAD_TOO_LARGE', `stdin holds more than ${MAX_PAYLOAD_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The payload to store. From stdin, one trailing newline is dropped (`echo` adds it); a file's
 * content is kept byte for byte (certificates end in a newline that matters).
 */
export async function readPayload(flags: PayloadFlags, warn: (text: string) => void): Promise<string> {
  if (flags.payload !== undefined && flags.payloadLocation !== undefined) {
    throw new SidekeyError('USAGE', 'cannot specify --payload and --payload-location together');
  }
  if (flags.payload !== undefined) {
    warn(PAYLOAD_FLAG_WARNING);
    return flags.payload;
  }
  if (flags.payloadLocation !== undefined) {
    try {
      return readFileSync(flags.payloadLocation, 'utf8');
    } catch (error) {
      throw new SidekeyError(
        'USAGE',
        `cannot read --payload-location ${flags.payloadLocation} (${(error as NodeJS.ErrnoException).code})`,
        { cause: error },
      );
    }
  }
  if (process.stdin.isTTY) throw new SidekeyError('USAGE', 'no payload: pipe it on stdin, or give --payload-location FILE');
  const text = await readStdin();
  return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
}

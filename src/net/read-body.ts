import type { IncomingMessage } from 'node:http';
import { SidekeyError } from '../core/errors.js';

/** Reads a request body up to `limit` bytes; a larger one is refused with 413 before it is buffered. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) throw new SidekeyError('PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new SidekeyError('PAYLOAD_TOO_LARGE', `request body is larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

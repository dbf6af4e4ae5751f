/**
 * Raw-socket HTTP for the bypass tests: the bytes are sent exactly as written (no client
 * normalizes the target or the headers), and one response is read by its Content-Length.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Longest a raw exchange may take, in milliseconds. */
const RAW_TIMEOUT_MS = 5000;

export function sendRaw(
  port: number,
  request: string | Buffer,
  options: { localAddress?: string; head?: boolean } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${RAW_TIMEOUT_MS} ms; got ${JSON.stringify(data.toString('latin1').slice(0, 200))}`));
    }, RAW_TIMEOUT_MS);
    const tryParse = (final: boolean) => {
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) {
        if (final) {
          clearTimeout(timer);
          reject(new Error(`connection closed without an answer (${data.length} bytes)`));
        }
        return;
      }
      const [statusLine, ...lines] = data.toString('latin1', 0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      const length = options.head ? 0 : Number(headers['content-length'] ?? '0');
      if (data.length < end + 4 + length && !final) return;
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: Number(statusLine?.split(' ')[1]), headers, body: data.subarray(end + 4, end + 4 + length).toString('utf8') });
    };
    socket.on('connect', () => socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A GET with the given raw target and extra header lines (`Name: value`), Host 169.254.169.254. */
export function rawGet(
  port: number,
  target: string,
  headerLines: readonly string[] = [],
  options: { localAddress?: string; method?: string } = {},
): Promise<RawAnswer> {
  const lines = [`${options.method ?? 'GET'} ${target} HTTP/1.1`, 'Host: 169.254.169.254', ...headerLines, 'Connection: close', '', ''];
  return sendRaw(port, lines.join('\r\n'), {
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    head: options.method === 'HEAD',
  });
}

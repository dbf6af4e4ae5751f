/**
 * The least a Node.js server does per denied request, as a reference for bench/imds.ts: a
 * `node:net` server that writes one fixed reply (the guard's own denied answer, byte for byte) on
 * every `data` event, and nothing else: no parsing, no policy, no access line, no metrics, no
 * timers. Not a server anyone should run; it shows what Node's sockets and streams cost per request
 * on this machine, whatever a server on top of them does.
 *
 * Run as its own process (`node _imds-floor.js REPLY_BASE64`) so that its CPU is counted alone; it
 * prints its URL once it listens.
 */
import { connect, createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startNodeChild } from './_load.js';

/** How long the guard may take to answer the request whose reply the floor replays, in milliseconds. */
const REPLY_TIMEOUT_MS = 5_000;
const HEAD_END = '\r\n\r\n';

/** The raw bytes a server at `url` answers `GET path` with (one keep-alive request, read up to Content-Length). */
export function rawReply(url: string, path: string): Promise<Buffer> {
  const { hostname, port, host } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(
      () => socket.destroy(new Error(`no complete reply from ${url}${path} in ${REPLY_TIMEOUT_MS} ms`)),
      REPLY_TIMEOUT_MS,
    );
    let received = Buffer.alloc(0);
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const headEnd = received.indexOf(HEAD_END);
      if (headEnd === -1) return;
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(received.subarray(0, headEnd).toString('latin1'));
      if (!length) {
        socket.destroy(new Error(`the reply from ${url}${path} has no Content-Length`));
        return;
      }
      const total = headEnd + HEAD_END.length + Number(length[1]);
      if (received.length < total) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(received.subarray(0, total));
    });
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

/** Starts the floor in its own process, answering every request with `reply`. */
export async function startImdsFloor(reply: Buffer) {
  const { child, firstLine } = await startNodeChild([fileURLToPath(import.meta.url), reply.toString('base64')], 'the node:net floor');
  return { child, url: firstLine };
}

function serve(reply: Buffer): void {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('data', () => socket.write(reply));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address && typeof address === 'object') process.stdout.write(`http://127.0.0.1:${address.port}\n`);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve(Buffer.from(process.argv[2] ?? '', 'base64'));

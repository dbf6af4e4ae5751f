/**
 * Requests to the real metadata service. Only an allow-list of headers is sent (never
 * X-Forwarded-For: IMDS refuses token requests that carry one), and whole answers are read, up
 * to a limit, so they can be cached and relayed with exact framing.
 */
import { Agent, request } from 'node:http';
import { SidekeyError } from '../core/errors.js';

/** How long one upstream request may take, in milliseconds (the SDKs give IMDS 1 s). */
export const UPSTREAM_TIMEOUT_MS = 2000;
/** Largest upstream answer relayed, in bytes (user-data is at most 16 KiB). */
export const MAX_UPSTREAM_BODY_BYTES = 1024 * 1024; // 1 MiB
/** Most concurrent connections to IMDS (it throttles per interface anyway). */
export const UPSTREAM_MAX_SOCKETS = 64;

/** Headers that describe one connection, never relayed (RFC 9110 section 7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
]);

export interface UpstreamAnswer {
  readonly status: number;
  /** Response headers as received (names in their case), minus hop-by-hop ones. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
}

export class UpstreamClient {
  readonly url: string;
  readonly #host: string;
  readonly #port: number;
  readonly #hostHeader: string;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: UPSTREAM_MAX_SOCKETS });

  constructor(url: string) {
    const parsed = new URL(url);
    this.url = url;
    this.#host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    this.#port = parsed.port === '' ? 80 : Number(parsed.port);
    this.#hostHeader = parsed.host;
  }

  /** Sends a bodiless request; rejects with UPSTREAM_FAILED on any network failure or oversize answer. */
  send(method: string, path: string, headers: Readonly<Record<string, string>>): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      const fail = (message: string, cause?: unknown) =>
        reject(new SidekeyError('UPSTREAM_FAILED', `metadata service ${this.url}: ${message}`, { cause }));
      const req = request(
        {
          host: this.#host,
          port: this.#port,
          method,
          path,
          agent: this.#agent,
          timeout: UPSTREAM_TIMEOUT_MS,
          headers: { ...headers, host: this.#hostHeader },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_UPSTREAM_BODY_BYTES) {
              req.destroy();
              fail(`answer larger than ${MAX_UPSTREAM_BODY_BYTES} bytes`);
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (error) => fail('answer interrupted', error));
          res.on('end', () => {
            const relayed: [string, string][] = [];
            const raw = res.rawHeaders;
            for (let i = 0; i + 1 < raw.length; i += 2) {
              const name = raw[i] as string;
              const lower = name.toLowerCase();
              // A HEAD answer's length describes the GET body: keep it; otherwise the length is recomputed.
              if (!HOP_BY_HOP.has(lower) && (lower !== 'content-length' || method === 'HEAD')) relayed.push([name, raw[i + 1] as string]);
            }
            resolve({ status: res.statusCode ?? 502, headers: relayed, body: Buffer.concat(chunks) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${UPSTREAM_TIMEOUT_MS} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message, error));
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

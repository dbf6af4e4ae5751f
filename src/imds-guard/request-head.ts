/**
 * A strict HTTP/1.x request-head parser for the guard. It exists because decisions must be made on
 * the exact bytes a client sent: node:http trims header padding and joins duplicate headers before
 * a handler sees them. The guard accepts no request bodies, so there is no body framing to parse
 * (and no request smuggling surface): any Content-Length but 0, or any Transfer-Encoding, is refused.
 */

/** Largest request head read, in bytes: request line and headers (8 KiB, like nginx's default buffers). */
export const MAX_HEAD_BYTES = 8 * 1024;
/** Most header lines in one request. */
export const MAX_HEADER_COUNT = 64;

const HEAD_END = Buffer.from('\r\n\r\n');
const METHOD = /^[A-Z]{1,16}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control bytes other than horizontal tab, and DEL, are never valid in a header value. */
function hasBadValueByte(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

export interface RequestHead {
  readonly method: string;
  /** The request target exactly as sent (latin1: one char per byte). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /** [lower-case name, raw value after the colon], in arrival order. */
  readonly headers: readonly (readonly [string, string])[];
  readonly keepAlive: boolean;
}

export const HEAD_REFUSALS = [
  'head-too-large',
  'line-ending',
  'request-line',
  'method-token',
  'http-version',
  'obs-fold',
  'header-name',
  'header-byte',
  'too-many-headers',
  'host-missing',
  'duplicate-host',
  'body',
] as const;
export type HeadRefusalReason = (typeof HEAD_REFUSALS)[number];

export type HeadParse =
  | { readonly kind: 'partial' }
  | { readonly kind: 'head'; readonly head: RequestHead; readonly consumed: number }
  | { readonly kind: 'refused'; readonly reason: HeadRefusalReason; readonly method?: string; readonly target?: string };

const refused = (reason: HeadRefusalReason, method?: string, target?: string): HeadParse => ({
  kind: 'refused',
  reason,
  ...(method !== undefined ? { method } : {}),
  ...(target !== undefined ? { target } : {}),
});

/** The trimmed value of a single-valued header, or undefined when absent. */
export function headerValue(head: RequestHead, name: string): string | undefined {
  const found = head.headers.find(([n]) => n === name);
  return found?.[1].trim();
}

export function parseRequestHead(buffer: Buffer): HeadParse {
  const end = buffer.indexOf(HEAD_END);
  if (end === -1) return buffer.length > MAX_HEAD_BYTES ? refused('head-too-large') : { kind: 'partial' };
  if (end + HEAD_END.length > MAX_HEAD_BYTES) return refused('head-too-large');
  const text = buffer.toString('latin1', 0, end);
  const lines = text.split('\r\n');
  if (lines.some((line) => line.includes('\n') || line.includes('\r'))) return refused('line-ending');
  const requestLine = lines[0] as string;
  const parts = requestLine.split(' ');
  const [method, target, protocol] = parts;
  if (parts.length !== 3 || !method || !target || !protocol) return refused('request-line', method, target);
  if (!METHOD.test(method)) return refused('method-token', method, target);
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') return refused('http-version', method, target);
  const version = protocol === 'HTTP/1.1' ? '1.1' : '1.0';
  if (lines.length - 1 > MAX_HEADER_COUNT) return refused('too-many-headers', method, target);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) return refused('obs-fold', method, target);
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon < 1 || !HEADER_NAME.test(name)) return refused('header-name', method, target);
    const value = line.slice(colon + 1);
    if (hasBadValueByte(value)) return refused('header-byte', method, target);
    headers.push([name.toLowerCase(), value]);
  }
  const hosts = headers.filter(([n]) => n === 'host').length;
  if (hosts > 1) return refused('duplicate-host', method, target);
  if (hosts === 0 && version === '1.1') return refused('host-missing', method, target);
  const lengths = headers.filter(([n]) => n === 'content-length');
  if (headers.some(([n]) => n === 'transfer-encoding')) return refused('body', method, target);
  if (lengths.length > 1 || (lengths.length === 1 && lengths[0]?.[1].trim() !== '0')) return refused('body', method, target);
  const connection = (headers.find(([n]) => n === 'connection')?.[1] ?? '').toLowerCase();
  const keepAlive = version === '1.1' && !/(?:^|,)\s*close\s*(?:,|$)/.test(connection);
  return { kind: 'head', head: { method, target, version, headers, keepAlive }, consumed: end + HEAD_END.length };
}

/**
 * A strict HTTP/1.x request-head parser for the guard. It exists because decisions must be made on
 * the exact bytes a client sent: node:http trims header padding and joins duplicate headers before
 * a handler sees them. The guard accepts no request bodies, so there is no body framing to parse
 * (and no request smuggling surface): any Content-Length but 0, or any Transfer-Encoding, is refused.
 *
 * It reads the bytes in place (no decoding of the whole head, no split, no regular expression on
 * the common path): a flood of requests is parsed at a few hundred nanoseconds each. Refusal
 * reasons keep one priority whatever the order of the faults in the head: line endings first, then
 * the request line, then the header count, then each header line in order, then the whole set.
 */
import { TOKEN_HEADER, TOKEN_TTL_HEADER } from '../core/imds/token-headers.js';
import { FORWARDING_HEADERS } from '../net/request-guards.js';
import { Latin1Intern } from './latin1-intern.js';

/** Largest request head read, in bytes: request line and headers (8 KiB, like nginx's default buffers). */
export const MAX_HEAD_BYTES = 8 * 1024;
/** Most header lines in one request. */
export const MAX_HEADER_COUNT = 64;
/** Longest method token, in bytes. */
export const MAX_METHOD_BYTES = 16;

const HEAD_END = Buffer.from('\r\n\r\n');
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const DEL = 0x7f;
const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/;

/** RFC 9110 tchar: the bytes a header name may hold. */
const TOKEN_BYTE = new Uint8Array(256);
for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_BYTE[char.charCodeAt(0)] = 1;

export interface RequestHead {
  readonly method: string;
  /** The request target exactly as sent (latin1: one char per byte). */
  readonly target: string;
  readonly version: '1.0' | '1.1';
  /**
   * [lower-case name, raw value after the colon] of the GUARD_HEADERS lines, in arrival order
   * (every other header line is checked, then dropped: nothing reads or forwards it).
   */
  readonly headers: readonly (readonly [string, string])[];
  readonly keepAlive: boolean;
  /** The Host header's value, trimmed (the parser refuses duplicates). */
  readonly host: string | undefined;
  /** The first User-Agent header's value, trimmed. */
  readonly userAgent: string | undefined;
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

const PARTIAL: HeadParse = Object.freeze({ kind: 'partial' });

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

const latin1 = (buffer: Buffer, start: number, end: number): string => buffer.toString('latin1', start, end);

/** Targets and guard header values seen recently, as strings made once (latin1-intern.ts). */
const recent = new Latin1Intern();

/**
 * The header lines the guard acts on; every other line is checked (name and value bytes) and then
 * dropped, so a request pays for no string it does not need. Names are lower-case [a-z0-9-] (the
 * byte comparison below relies on it).
 */
export const GUARD_HEADERS: readonly string[] = [
  'host',
  'user-agent',
  'connection',
  'content-length',
  'transfer-encoding',
  ...FORWARDING_HEADERS,
  TOKEN_HEADER,
  TOKEN_TTL_HEADER,
];

/** GUARD_HEADERS by name length, with their bytes. */
const GUARD_HEADERS_BY_LENGTH: { readonly name: string; readonly bytes: Buffer }[][] = [];
for (const name of GUARD_HEADERS) {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`header name ${name} must be lower-case [a-z0-9-]`);
  const sameLength = GUARD_HEADERS_BY_LENGTH[name.length] ?? [];
  sameLength.push({ name, bytes: Buffer.from(name, 'latin1') });
  GUARD_HEADERS_BY_LENGTH[name.length] = sameLength;
}

/**
 * The GUARD_HEADERS name spelled by bytes [start, end) in any case, else undefined. The bytes are
 * tchars already; OR-ing 0x20 folds A-Z onto a-z and maps no other tchar onto [a-z0-9-].
 */
function guardHeaderName(buffer: Buffer, start: number, end: number): string | undefined {
  const candidates = GUARD_HEADERS_BY_LENGTH[end - start];
  if (candidates === undefined) return undefined;
  for (const { name, bytes } of candidates) {
    let i = 0;
    while (i < bytes.length && ((buffer[start + i] as number) | 0x20) === bytes[i]) i++;
    if (i === bytes.length) return name;
  }
  return undefined;
}

/** The method as a shared constant for the methods IMDS serves (no string built), else undefined. */
function knownMethod(buffer: Buffer, end: number): string | undefined {
  const b0 = buffer[0];
  if (end === 3 && b0 === 0x47 && buffer[1] === 0x45 && buffer[2] === 0x54) return 'GET';
  if (end === 3 && b0 === 0x50 && buffer[1] === 0x55 && buffer[2] === 0x54) return 'PUT';
  if (end === 4 && b0 === 0x48 && buffer[1] === 0x45 && buffer[2] === 0x41 && buffer[3] === 0x44) return 'HEAD';
  return undefined;
}

/** True when bytes [start, end) are 1 to MAX_METHOD_BYTES upper-case letters. */
function isMethodToken(buffer: Buffer, start: number, end: number): boolean {
  if (end - start < 1 || end - start > MAX_METHOD_BYTES) return false;
  for (let i = start; i < end; i++) {
    const b = buffer[i] as number;
    if (b < 0x41 || b > 0x5a) return false;
  }
  return true;
}

/** `HTTP/1.1` -> '1.1', `HTTP/1.0` -> '1.0', anything else undefined. */
function versionOf(buffer: Buffer, start: number, end: number): '1.0' | '1.1' | undefined {
  if (end - start !== 8) return undefined;
  if (buffer[start] !== 0x48 || buffer[start + 1] !== 0x54 || buffer[start + 2] !== 0x54 || buffer[start + 3] !== 0x50) return undefined;
  if (buffer[start + 4] !== 0x2f || buffer[start + 5] !== 0x31 || buffer[start + 6] !== 0x2e) return undefined;
  const minor = buffer[start + 7];
  return minor === 0x31 ? '1.1' : minor === 0x30 ? '1.0' : undefined;
}

export function parseRequestHead(buffer: Buffer): HeadParse {
  // One pass up to the first CRLFCRLF: where it is, whether any CR or LF stands outside a CRLF,
  // where the request line ends and its spaces are, and how many header lines follow.
  const length = buffer.length;
  // A head ending past MAX_HEAD_BYTES is too large whether or not its end is found.
  const scanEnd = Math.min(length, MAX_HEAD_BYTES - 3);
  let end = -1;
  let strayLineEnding = false;
  let lineEnd = -1;
  let headerLines = 0;
  let spaces = 0;
  let sp1 = -1;
  let sp2 = -1;
  for (let i = 0; i < scanEnd; i++) {
    const b = buffer[i];
    if (b === CR) {
      if (buffer[i + 1] === LF) {
        if (buffer[i + 2] === CR && buffer[i + 3] === LF) {
          end = i;
          break;
        }
        if (lineEnd === -1) lineEnd = i;
        else headerLines++;
        i++;
      } else if (i + 1 < length) {
        strayLineEnding = true;
      }
    } else if (b === LF) {
      strayLineEnding = true;
    } else if (b === SP && lineEnd === -1) {
      spaces++;
      if (sp1 === -1) sp1 = i;
      else if (sp2 === -1) sp2 = i;
    }
  }
  if (end === -1) return length > MAX_HEAD_BYTES ? refused('head-too-large') : PARTIAL;
  if (strayLineEnding) return refused('line-ending');
  if (lineEnd === -1) lineEnd = end;
  else headerLines++;

  // The request line: exactly three non-empty parts separated by single spaces.
  if (sp1 === -1) return refused('request-line', latin1(buffer, 0, lineEnd));
  const targetEnd = sp2 === -1 ? lineEnd : sp2;
  const method = knownMethod(buffer, sp1) ?? latin1(buffer, 0, sp1);
  const target = recent.text(buffer, sp1 + 1, targetEnd);
  if (spaces !== 2 || sp1 === 0 || targetEnd === sp1 + 1 || sp2 + 1 === lineEnd) return refused('request-line', method, target);
  if (!isMethodToken(buffer, 0, sp1)) return refused('method-token', method, target);
  const version = versionOf(buffer, sp2 + 1, lineEnd);
  if (version === undefined) return refused('http-version', method, target);
  if (headerLines > MAX_HEADER_COUNT) return refused('too-many-headers', method, target);

  // Header lines, in order: no folding, a token name, then a colon, no control byte in the value.
  // Every CR before `end` starts a CRLF (checked above), so a line ends at its first CR.
  const headers: [string, string][] = [];
  let hosts = 0;
  let host: string | undefined;
  let userAgent: string | undefined;
  let connection: string | undefined;
  let lengths = 0;
  let contentLength = '';
  let chunked = false;
  let start = lineEnd + 2;
  while (start < end) {
    const first = buffer[start];
    if (first === SP || first === TAB) return refused('obs-fold', method, target);
    let colon = start;
    while (TOKEN_BYTE[buffer[colon] as number] === 1) colon++;
    if (colon === start || buffer[colon] !== COLON) return refused('header-name', method, target);
    let stop = colon + 1;
    for (let b = buffer[stop] as number; b !== CR; b = buffer[++stop] as number) {
      if ((b < SP && b !== TAB) || b === DEL) return refused('header-byte', method, target);
    }
    const name = guardHeaderName(buffer, start, colon);
    start = stop + 2;
    if (name === undefined) continue;
    const value = recent.text(buffer, colon + 1, stop);
    headers.push([name, value]);
    if (name === 'host') {
      hosts++;
      host = recent.lastTrimmed();
    } else if (name === 'user-agent') {
      userAgent ??= recent.lastTrimmed();
    } else if (name === 'connection') {
      connection ??= value;
    } else if (name === 'content-length') {
      lengths++;
      contentLength = value;
    } else if (name === 'transfer-encoding') {
      chunked = true;
    }
  }
  if (hosts > 1) return refused('duplicate-host', method, target);
  if (hosts === 0 && version === '1.1') return refused('host-missing', method, target);
  if (chunked) return refused('body', method, target);
  if (lengths > 1 || (lengths === 1 && contentLength.trim() !== '0')) return refused('body', method, target);
  const keepAlive = version === '1.1' && (connection === undefined || !CLOSE_TOKEN.test(connection.toLowerCase()));
  return {
    kind: 'head',
    head: { method, target, version, headers, keepAlive, host, userAgent },
    consumed: end + HEAD_END.length,
  };
}

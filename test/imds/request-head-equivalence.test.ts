/**
 * The byte-level head parser against the string-based one it replaced (kept below as the
 * reference): on every head, valid or mutated at random, both give the same result: partial,
 * the same refusal with the same method and target, or the same head (the guard headers, in
 * order, with their raw values). Deterministic: a fixed seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GUARD_HEADERS, type HeadParse, MAX_HEAD_BYTES, MAX_HEADER_COUNT, parseRequestHead } from '../../src/imds-guard/request-head.js';

/** The previous parser, verbatim but for its result shape. */
function referenceParse(buffer: Buffer): HeadParse {
  const refused = (reason: string, method?: string, target?: string) =>
    ({ kind: 'refused', reason, ...(method !== undefined ? { method } : {}), ...(target !== undefined ? { target } : {}) }) as HeadParse;
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return buffer.length > MAX_HEAD_BYTES ? refused('head-too-large') : { kind: 'partial' };
  if (end + 4 > MAX_HEAD_BYTES) return refused('head-too-large');
  const lines = buffer.toString('latin1', 0, end).split('\r\n');
  if (lines.some((line) => line.includes('\n') || line.includes('\r'))) return refused('line-ending');
  const parts = (lines[0] as string).split(' ');
  const [method, target, protocol] = parts;
  if (parts.length !== 3 || !method || !target || !protocol) return refused('request-line', method, target);
  if (!/^[A-Z]{1,16}$/.test(method)) return refused('method-token', method, target);
  if (protocol !== 'HTTP/1.1' && protocol !== 'HTTP/1.0') return refused('http-version', method, target);
  const version = protocol === 'HTTP/1.1' ? '1.1' : '1.0';
  if (lines.length - 1 > MAX_HEADER_COUNT) return refused('too-many-headers', method, target);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) return refused('obs-fold', method, target);
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon < 1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return refused('header-name', method, target);
    const value = line.slice(colon + 1);
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if ((code < 0x20 && code !== 0x09) || code === 0x7f) return refused('header-byte', method, target);
    }
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
  const kept = headers.filter(([n]) => GUARD_HEADERS.includes(n));
  const host = headers.find(([n]) => n === 'host')?.[1].trim();
  const userAgent = headers.find(([n]) => n === 'user-agent')?.[1].trim();
  return { kind: 'head', head: { method, target, version, headers: kept, keepAlive, host, userAgent }, consumed: end + 4 };
}

/** mulberry32: a small seeded generator, so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  'GET /latest/meta-data/iam/security-credentials/role HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n',
  'PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nUser-Agent: aws-sdk-js/3\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\nContent-Length: 0\r\n\r\n',
  'GET /latest/meta-data/ HTTP/1.1\r\nhost: a\r\nX-Aws-Ec2-Metadata-Token: abc==\r\nAccept: */*\r\nConnection: keep-alive, Close\r\n\r\n',
  'HEAD /latest/user-data HTTP/1.0\r\nX-Forwarded-For: 10.0.0.1\r\nforwarded: for=x\r\nX-REAL-IP: y\r\nTransfer-Encoding: chunked\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nUSER-AGENT:\t curl/8 \xa0\r\nX-Custom: caf\xe9\r\n\r\nGET /next HTTP/1.1\r\n',
];
/** Bytes that matter to the grammar, plus ordinary ones. */
const ALPHABET = [' ', '\t', '\r', '\n', ':', '/', 'A', 'a', 'H', 'T', 'P', '1', '.', '-', '\x00', '\x7f', '\xa0', '\xe9', ',', '"'];

function mutate(text: string, next: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(next() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(next() * (out.length + 1));
    const char = ALPHABET[Math.floor(next() * ALPHABET.length)] as string;
    const kind = next();
    if (kind < 0.4) out = out.slice(0, at) + char + out.slice(at);
    else if (kind < 0.7) out = out.slice(0, at) + out.slice(at + 1);
    else out = out.slice(0, at) + char + out.slice(at + 1);
  }
  return out;
}

function assertSame(text: string): void {
  const buffer = Buffer.from(text, 'latin1');
  assert.deepEqual(parseRequestHead(buffer), referenceParse(buffer), JSON.stringify(text));
}

test('same result as the string-based parser on valid heads, every prefix of them, and case variants', () => {
  for (const seed of SEEDS) {
    for (let cut = 0; cut <= seed.length; cut++) assertSame(seed.slice(0, cut));
    assertSame(seed.toUpperCase());
    assertSame(seed.toLowerCase());
  }
  for (const name of GUARD_HEADERS) {
    const mixed = [...name].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
    assertSame(`GET / HTTP/1.1\r\nHost: h\r\n${mixed}:  v \r\n\r\n`);
  }
});

test('same result as the string-based parser on 20,000 random mutations', () => {
  const next = random(4);
  for (let i = 0; i < 20_000; i++) assertSame(mutate(SEEDS[i % SEEDS.length] as string, next));
});

test('same result at the size and count limits', () => {
  const filler = (n: number) => `GET / HTTP/1.1\r\nHost: h\r\nX: ${'y'.repeat(n)}\r\n\r\n`;
  const base = filler(0).length;
  for (const extra of [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5]) assertSame(filler(MAX_HEAD_BYTES - base + extra));
  for (const extra of [-1, 0, 1]) {
    const text = filler(MAX_HEAD_BYTES - base + extra);
    assertSame(text.slice(0, -4));
    assertSame(`${text.slice(0, -4)}\r\n`);
  }
  for (const count of [MAX_HEADER_COUNT - 2, MAX_HEADER_COUNT - 1, MAX_HEADER_COUNT, MAX_HEADER_COUNT + 1]) {
    assertSame(`GET / HTTP/1.1\r\nHost: h\r\n${'X: y\r\n'.repeat(count)}\r\n`);
  }
});

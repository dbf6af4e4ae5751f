import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readTokenHeaders } from '../../src/core/imds/token-headers.js';
import { MAX_HEAD_BYTES, parseRequestHead } from '../../src/imds-guard/request-head.js';

const parse = (text: string) => parseRequestHead(Buffer.from(text, 'latin1'));

test('a head split anywhere is partial until complete; pipelined heads are consumed one by one', () => {
  const full = 'GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n';
  const firstEnd = full.indexOf('\r\n\r\n') + 4;
  for (let cut = 0; cut < firstEnd; cut++) assert.equal(parse(full.slice(0, cut)).kind, 'partial', `cut at ${cut}`);
  const first = parse(full);
  assert.equal(first.kind, 'head');
  if (first.kind !== 'head') return;
  assert.equal(first.consumed, firstEnd);
  assert.equal(first.head.target, '/latest/meta-data/');
  assert.equal(first.head.keepAlive, true);
  const second = parseRequestHead(Buffer.from(full, 'latin1').subarray(first.consumed));
  assert.equal(second.kind === 'head' && second.head.target, '/a');
});

test('raw header values are kept exactly (padding visible), names lower-cased', () => {
  const result = parse('GET / HTTP/1.1\r\nHost: x\r\nX-Aws-Ec2-Metadata-Token:   t  \r\n\r\n');
  assert.ok(result.kind === 'head');
  assert.deepEqual(result.head.headers[1], ['x-aws-ec2-metadata-token', '   t  ']);
  assert.equal(parse('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').kind === 'head', true);
  const close = parse('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(close.kind === 'head' && close.head.keepAlive, false);
  const v10 = parse('GET / HTTP/1.0\r\n\r\n');
  assert.equal(v10.kind === 'head' && v10.head.keepAlive, false);
});

test('malformed heads are refused with a reason', () => {
  const cases: [string, string][] = [
    ['GET / HTTP/1.1\r\n\r\n', 'host-missing'],
    ['GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', 'duplicate-host'],
    ['GET / HTTP/1.2\r\nHost: a\r\n\r\n', 'http-version'],
    ['get / HTTP/1.1\r\nHost: a\r\n\r\n', 'method-token'],
    ['GET  / HTTP/1.1\r\nHost: a\r\n\r\n', 'request-line'],
    ['GET / HTTP/1.1\nHost: a\r\n\r\n', 'line-ending'],
    ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 'obs-fold'],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 'header-name'],
    ['GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n', 'header-byte'],
    ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n', 'body'],
    ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n', 'body'],
    ['GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', 'body'],
    [`GET / HTTP/1.1\r\nHost: a\r\n${'X: y\r\n'.repeat(70)}\r\n`, 'too-many-headers'],
    [`GET / HTTP/1.1\r\nHost: a\r\nX: ${'y'.repeat(MAX_HEAD_BYTES)}`, 'head-too-large'],
  ];
  for (const [text, reason] of cases) {
    const result = parse(text);
    assert.equal(result.kind === 'refused' && result.reason, reason, JSON.stringify(text.slice(0, 60)));
  }
  assert.equal(parse('GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n').kind, 'head');
});

test('token headers: one value, one optional space, token characters; TTL plain decimal', () => {
  const t = 'x-aws-ec2-metadata-token';
  const ttl = 'x-aws-ec2-metadata-token-ttl-seconds';
  assert.deepEqual(
    readTokenHeaders([
      [t, ' abc=='],
      [ttl, '60'],
    ]),
    { token: 'abc==', ttlSeconds: 60 },
  );
  assert.deepEqual(readTokenHeaders([[t, 'abc']]), { token: 'abc' });
  const problems: [[string, string][], string][] = [
    [
      [
        [t, ' a'],
        [t, ' a'],
      ],
      'duplicate',
    ],
    [[[t, '  a']], 'padded'],
    [[[t, ' a ']], 'padded'],
    [[[t, '\ta']], 'padded'],
    [[[t, ' ']], 'padded'],
    [[[t, ' a,b']], 'characters'],
    [[[ttl, ' 021600']], 'leading-zero'],
    [[[ttl, ' 0']], 'out-of-range'],
    [[[ttl, ' 000']], 'out-of-range'],
    [[[ttl, ' 1e3']], 'characters'],
    [
      [
        [ttl, ' 60'],
        [ttl, ' 60'],
      ],
      'duplicate',
    ],
  ];
  for (const [headers, problem] of problems) {
    const result = readTokenHeaders(headers);
    assert.equal('problem' in result && result.problem, problem, JSON.stringify(headers));
  }
});

/**
 * Header bypass classes: client-supplied forwarding headers, duplicate or padded IMDSv2 token
 * headers, and the IPv6 endpoint's Host. Raw sockets, so nothing trims or joins the headers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertNothingForbiddenReached,
  assertRefused,
  assertSameAsUpstream,
  checkVariants,
  type GuardUnderTest,
  startGuard,
} from './guard-fixtures.js';
import { rawGet, sendRaw } from './raw-http.js';

let g: GuardUnderTest;
before(async () => {
  g = await startGuard({ cache_ttl_seconds: 0 });
});
after(() => g.stop());

const TTL = 'X-aws-ec2-metadata-token-ttl-seconds';
const TOKEN = 'X-aws-ec2-metadata-token';

async function freshToken(): Promise<string> {
  const answer = await rawGet(g.port, '/latest/api/token', [`${TTL}: 60`], { method: 'PUT' });
  assert.equal(answer.status, 200);
  return answer.body;
}

test('client-supplied X-Forwarded-For, Forwarded and X-Real-IP are refused', async () => {
  const relayed = [
    'X-Forwarded-For: 10.0.0.1',
    'x-forwarded-for: 127.0.0.1',
    'Forwarded: for=10.0.0.1',
    'X-Real-IP: 10.0.0.1',
    'X-FORWARDED-FOR:',
  ];
  for (const line of relayed) {
    await checkVariants(g, [['/latest/meta-data/instance-id', 'refused']], [line]);
    const put = await rawGet(g.port, '/latest/api/token', [line, `${TTL}: 60`], { method: 'PUT' });
    assertRefused(put, `token PUT with ${line}`, [403]);
  }
  // A token PUT that goes through carries no forwarding header upstream (IMDS would refuse it).
  await freshToken();
  for (const request of g.peer.requests) {
    const names = request.headers.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    assert.ok(
      !names.some((n) => ['x-forwarded-for', 'forwarded', 'x-real-ip'].includes(n)),
      `${request.url} reached IMDS with a forwarding header`,
    );
  }
  assert.equal(g.peer.requests.filter((r) => r.url === '/latest/meta-data/instance-id').length, 0, 'a relayed request reached IMDS');
});

test('duplicate or padded token headers are refused', async () => {
  g.peer.reset();
  const token = await freshToken();
  const bad = [
    [`${TOKEN}: ${token}`, `${TOKEN}: ${token}`],
    [`${TOKEN}: ${token}`, `x-aws-ec2-metadata-token: ${token}`],
    [`${TOKEN}:  ${token}`],
    [`${TOKEN}: ${token} `],
    [`${TOKEN}:\t${token}`],
    [`${TOKEN}: ${token}, ${token}`],
    [`${TOKEN}: ${token}\x00`],
    [`${TOKEN} : ${token}`],
    [`${TOKEN}: ${token}`, ' continued'],
  ];
  for (const lines of bad) await checkVariants(g, [['/latest/meta-data/instance-id', 'refused']], lines);
  const badTtl = [['21601'], ['0'], ['-1'], ['021600'], ['1e3'], ['60 '], [' 60'], ['60', '60'], ['']];
  for (const values of badTtl) {
    const answer = await rawGet(
      g.port,
      '/latest/api/token',
      values.map((v) => `${TTL}: ${v}`),
      { method: 'PUT' },
    );
    assertRefused(answer, `TTL ${JSON.stringify(values)}`, [400]);
  }
  assertRefused(await rawGet(g.port, '/latest/api/token', [], { method: 'PUT' }), 'token PUT without a TTL', [400]);
  // Each refusal says which rule applied: a TTL of 0 is out of range, not "padded".
  for (const [value, said] of [
    ['0', /must be 1 to 21600 seconds \(rule header:x-aws-ec2-metadata-token-ttl-seconds:out-of-range\)/],
    ['21601', /must be 1 to 21600 seconds: a token PUT needs 1 to 21600 seconds \(rule token:ttl\)/],
    ['021600', /has a leading zero .*\(rule header:x-aws-ec2-metadata-token-ttl-seconds:leading-zero\)/],
    ['1e3', /has characters its value cannot have .*\(rule header:x-aws-ec2-metadata-token-ttl-seconds:characters\)/],
  ] as const) {
    const answer = await rawGet(g.port, '/latest/api/token', [`${TTL}: ${value}`], { method: 'PUT' });
    assert.match(String(JSON.parse(answer.body).Message), said, `TTL ${value}`);
  }
  // The well-formed forms pass and are answered as IMDS answers them.
  const good = await rawGet(g.port, '/latest/meta-data/instance-id', [`${TOKEN}: ${token}`]);
  await assertSameAsUpstream(g, good, '/latest/meta-data/instance-id', 'one well-formed token header');
  const bare = await rawGet(g.port, '/latest/meta-data/instance-id', [`${TOKEN}:${token}`]);
  assert.equal(bare.status, 200);
  const invalid = await rawGet(g.port, '/latest/meta-data/instance-id', [`${TOKEN}: not-a-token-imds-issued`]);
  assert.equal(invalid.status, 401, 'an invalid token is answered as IMDS answers it');
  assertNothingForbiddenReached(g.peer);
  // No refused request reached IMDS: only the well-formed GETs did (plus the comparison's direct one).
  const gets = g.peer.requests.filter((r) => r.method === 'GET').map((r) => r.headers.join(' '));
  assert.equal(gets.length, 4, gets.join('\n'));
});

test('the IPv6 endpoint Host [fd00:ec2::254] changes nothing', async () => {
  for (const host of ['[fd00:ec2::254]', '[fd00:ec2::254]:80', '[FD00:EC2::254]']) {
    const send = (method: string, target: string, extra: string[] = []) =>
      sendRaw(g.port, [`${method} ${target} HTTP/1.1`, `Host: ${host}`, ...extra, 'Connection: close', '', ''].join('\r\n'));
    for (const target of [
      '/latest/meta-data/iam/security-credentials/instance-role',
      '/latest/user-data',
      '/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance',
    ]) {
      assertRefused(await send('GET', target), `${host} ${target}`, [403]);
    }
    await assertSameAsUpstream(
      g,
      await send('GET', '/latest/meta-data/instance-id'),
      '/latest/meta-data/instance-id',
      `${host} instance-id`,
    );
    const put = await send('PUT', '/latest/api/token', [`${TTL}: 30`]);
    assert.equal(put.status, 200, `${host} token PUT`);
  }
  assertNothingForbiddenReached(g.peer);
});

test('malformed heads are refused and the connection closed', async () => {
  g.peer.reset();
  const heads = [
    'GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n',
    'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'GET /latest/meta-data/instance-id HTTP/2.0\r\nHost: a\r\n\r\n',
    'GET  /latest/meta-data/instance-id HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET /latest/meta-data/instance-id HTTP/1.1\nHost: a\r\n\r\n',
    'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
    'GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    `GET /latest/meta-data/instance-id HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`,
  ];
  for (const head of heads) {
    const answer = await sendRaw(g.port, head);
    assertRefused(answer, JSON.stringify(head.slice(0, 60)), [400, 431]);
  }
  assert.equal(g.peer.requests.filter((r) => r.method === 'GET').length, 0, 'a malformed request reached IMDS');
});

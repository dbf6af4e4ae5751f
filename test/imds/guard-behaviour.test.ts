/**
 * The guard's own behaviour: presets and config rules, require_token, the static cache (never
 * for tokens or credentials, never across token classes), upstream failures (502, no crash), the
 * access log line and the metrics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { PEER_INSTANCE_SECRETS } from '../peers/imds-peer.js';
import { assertNothingForbiddenReached, assertRefused, assertSameAsUpstream, startGuard } from './guard-fixtures.js';
import { rawGet } from './raw-http.js';

const TTL = 'X-aws-ec2-metadata-token-ttl-seconds: 60';
const CREDS = '/latest/meta-data/iam/security-credentials/instance-role';

test('strict preset: the harmless allow-list and the token endpoint; config rules add and remove; the floor holds', async () => {
  const g = await startGuard({
    preset: 'strict',
    allow: [
      '/*/dynamic/instance-identity/document',
      '/latest/meta-data/iam/security-credentials/*',
      '/latest/meta-data/identity-credentials/*',
    ],
    deny: ['/latest/meta-data/ami-id'],
  });
  try {
    for (const path of [
      '/latest/meta-data/instance-id',
      '/latest/meta-data/placement/region',
      '/latest/meta-data/local-ipv4',
      '/latest/dynamic/instance-identity/document',
    ]) {
      await assertSameAsUpstream(g, await rawGet(g.port, path), path, path);
    }
    const denied: [string, string][] = [
      ['/latest/meta-data/', 'strict:deny-rest'],
      ['/', 'strict:deny-rest'],
      ['/latest/meta-data/ami-id', 'config-deny:/latest/meta-data/ami-id'],
      [CREDS, 'floor:instance-credentials'],
      ['/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', 'floor:identity-credentials'],
    ];
    for (const [path, rule] of denied) {
      const answer = await rawGet(g.port, path);
      assertRefused(answer, path, [403]);
      assert.ok(answer.body.includes(rule), `${path}: expected rule ${rule} in ${answer.body}`);
    }
    assert.equal((await rawGet(g.port, '/latest/api/token', [TTL], { method: 'PUT' })).status, 200);
    assertNothingForbiddenReached(g.peer);
  } finally {
    await g.stop();
  }
});

test('require_token: no token is 401 locally, a token IMDS rejects is its 401, a good token passes', async () => {
  const g = await startGuard({ require_token: true });
  try {
    assertRefused(await rawGet(g.port, '/latest/meta-data/instance-id'), 'no token', [401]);
    assert.equal(g.peer.requests.length, 0);
    assert.equal((await rawGet(g.port, '/latest/meta-data/instance-id', ['X-aws-ec2-metadata-token: bm9wZQ=='])).status, 401);
    const token = (await rawGet(g.port, '/latest/api/token', [TTL], { method: 'PUT' })).body;
    const answer = await rawGet(g.port, '/latest/meta-data/instance-id', [`X-aws-ec2-metadata-token: ${token}`]);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'i-0123456789abcdef0');
  } finally {
    await g.stop();
  }
});

test('static answers are cached per token class; token answers never', async () => {
  const g = await startGuard({ cache_ttl_seconds: 60 });
  try {
    const count = (url: string) => g.peer.requests.filter((r) => r.url === url).length;
    for (let i = 0; i < 5; i++) assert.equal((await rawGet(g.port, '/latest/meta-data/instance-id')).status, 200);
    await Promise.all(Array.from({ length: 10 }, () => rawGet(g.port, '/latest/meta-data/ami-id')));
    assert.equal(count('/latest/meta-data/instance-id'), 1, 'a burst hits IMDS once');
    assert.equal(count('/latest/meta-data/ami-id'), 1, 'concurrent misses share one upstream request');
    for (let i = 0; i < 3; i++) assert.equal((await rawGet(g.port, '/latest/api/token', [TTL], { method: 'PUT' })).status, 200);
    assert.equal(count('/latest/api/token'), 3, 'tokens are never cached');
    // IMDS switched to tokens-required: a tokenless request must not be served the answer a token got.
    g.peer.tokens = 'required';
    const token = (await rawGet(g.port, '/latest/api/token', [TTL], { method: 'PUT' })).body;
    assert.equal((await rawGet(g.port, '/latest/meta-data/mac', [`X-aws-ec2-metadata-token: ${token}`])).status, 200);
    assert.equal((await rawGet(g.port, '/latest/meta-data/mac')).status, 401, 'the tokenless request is IMDS’s to answer');
    const hits = await g.running.daemon.metrics.render();
    assert.match(hits, /sidekey_imds_cache_total\{result="hit"\} \d+/);
  } finally {
    await g.stop();
  }
});

test('an unreachable metadata service is a 502 with a JSON error, and the guard keeps serving', async () => {
  const g = await startGuard({ upstream: `http://127.0.0.1:${await freePort()}` });
  try {
    for (let i = 0; i < 2; i++) {
      const answer = await rawGet(g.port, '/latest/meta-data/instance-id');
      assert.equal(answer.status, 502);
      assert.equal((JSON.parse(answer.body) as { Code: string }).Code, 'SK_UPSTREAM_FAILED');
    }
    assert.equal((await rawGet(g.port, '/latest/api/token', [TTL], { method: 'PUT' })).status, 502);
    assertRefused(await rawGet(g.port, '/latest/user-data'), 'policy still applies', [403]);
    const line = g.running.lines.find((l) => l.includes('"rule":"upstream"'));
    assert.ok(line?.includes('ECONNREFUSED'), 'the log says why');
  } finally {
    await g.stop();
  }
});

test('one access log line per request, with the deciding rule; metrics by decision and rule; no token logged', async () => {
  const g = await startGuard();
  try {
    const token = (await rawGet(g.port, '/latest/api/token', [TTL, 'User-Agent: probe/1.0'], { method: 'PUT' })).body;
    await rawGet(g.port, '/latest/meta-data/instance-id', [`X-aws-ec2-metadata-token: ${token}`, 'User-Agent: probe/1.0']);
    await rawGet(g.port, '/latest/meta-data/%2e%2e/user-data');
    await rawGet(g.port, CREDS);
    const lines = g.running.lines.filter((l) => l.includes('"access":"imds"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4);
    const [put, get, refused, denied] = lines;
    assert.deepEqual(
      {
        method: get?.method,
        target: get?.target,
        path: get?.path,
        host: get?.host,
        ua: get?.ua,
        remote: get?.remote,
        status: get?.status,
        rule: get?.rule,
      },
      {
        method: 'GET',
        target: '/latest/meta-data/instance-id',
        path: '/latest/meta-data/instance-id',
        host: '169.254.169.254',
        ua: 'probe/1.0',
        remote: '127.0.0.1',
        status: 200,
        rule: 'default:allow-rest',
      },
    );
    assert.equal(typeof get?.ms, 'number');
    assert.equal(put?.rule, 'default:allow-rest');
    assert.deepEqual([refused?.status, refused?.rule, refused?.path], [400, 'canonical:encoded-dot', undefined]);
    assert.deepEqual([denied?.status, denied?.rule, denied?.decision], [403, 'floor:instance-credentials', 'deny']);
    assertNoSecrets(g.running.lines, [token, ...Object.values(PEER_INSTANCE_SECRETS)]);
    const metrics = await g.running.daemon.metrics.render();
    assert.match(metrics, /sidekey_imds_requests_total\{caller="",decision="deny",rule="floor:instance-credentials"\} 1/);
    assert.match(metrics, /sidekey_imds_requests_total\{caller="",decision="refuse",rule="canonical:encoded-dot"\} 1/);
    assert.match(metrics, /sidekey_imds_requests_total\{caller="",decision="allow",rule="default:allow-rest"\} 2/);
  } finally {
    await g.stop();
  }
});

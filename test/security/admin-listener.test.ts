/**
 * Attacks on the admin listener, through a real daemon:
 * - every unknown path made a metric series (20,000 paths: +490 MiB, scrapes blocking
 *   every front for seconds);
 * - no Host guard (a DNS-rebinding page read service names from /ready), and a
 *   malformed percent-escape in /admin/services/NAME answered 500.
 */
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { daemonConfig, httpRequest, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const ADMIN = randomToken();
let peer: StsPeer;
let d: RunningDaemon;
let base: string;

before(async () => {
  peer = await startStsPeer();
  d = await startDaemon(
    daemonConfig(
      peer.url,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      { admin: { listen: '127.0.0.1:0', token: ADMIN, allowed_hosts: ['sidekey-admin.internal:9090'] } },
    ),
  );
  base = d.url('admin');
});
after(async () => {
  await d?.stop();
  await peer?.close();
});

test('unknown paths are counted as one "other" series, however many there are', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const paths = Array.from({ length: 2000 }, (_, i) => `/probe-${i}-${randomToken(6)}`);
    for (let i = 0; i < paths.length; i += 50) {
      await Promise.all(paths.slice(i, i + 50).map((p) => httpRequest(`${base}${p}`, {}, 'GET', agent)));
    }
  } finally {
    agent.destroy();
  }
  const metrics = (await httpRequest(`${base}/metrics`)).text;
  const series = metrics.split('\n').filter((l) => l.startsWith('sidekey_admin_requests_total{'));
  assert.ok(series.length <= 8, series.join('\n'));
  assert.ok(
    series.some((l) => /path="other",status="404"\} 2000/.test(l)),
    series.join('\n'),
  );
  assert.doesNotMatch(metrics, /probe-/);
});

test('a Host that does not name the listener is refused on every admin path', async () => {
  for (const path of ['/ready', '/metrics', '/health', '/admin/services']) {
    const answer = await httpRequest(`${base}${path}`, { host: 'attacker.example', authorization: `Bearer ${ADMIN}` });
    assert.equal(answer.status, 403, path);
    assert.doesNotMatch(answer.text, /web/);
  }
  assert.equal((await httpRequest(`${base}/ready`, { host: 'sidekey-admin.internal:9090' })).status !== 403, true, 'allowed_hosts');
  assert.notEqual((await httpRequest(`${base}/ready`)).status, 403, 'its own address');
});

test('a malformed percent-escape in a service name is a 400, not a 500', async () => {
  const answer = await httpRequest(`${base}/admin/services/%E0%A4%A`, { authorization: `Bearer ${ADMIN}` });
  assert.equal(answer.status, 400, answer.text);
  assert.match(answer.text, /malformed percent-escape/);
});

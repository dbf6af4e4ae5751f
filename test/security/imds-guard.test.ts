/**
 * Attacks on the metadata guard in per-caller mode, against the real daemon, the IMDS peer and the
 * STS peer (127.0.0.x are distinct sources on Linux loopback):
 * - any caller could evict the others' IMDSv2 token bindings (10,000 kept in all, oldest
 *   dropped), so a loop of token PUTs logged every other container out of its credentials;
 * - a metadata path without a version prefix (or with extra segments before it) missed the
 *   credential floor, whose rules start with one version segment.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, test } from 'node:test';
import { MAX_TOKENS_PER_CALLER, MAX_TRACKED_TOKENS } from '../../src/core/imds/token-bindings.js';
import { daemonConfig } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertRefused } from '../imds/guard-fixtures.js';
import { rawGet } from '../imds/raw-http.js';
import { type ImdsPeer, startImdsPeer } from '../peers/imds-peer.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const CREDS = '/latest/meta-data/iam/security-credentials';
const TTL = 'X-aws-ec2-metadata-token-ttl-seconds: 300';
let sts: StsPeer;
let peer: ImdsPeer;
let running: RunningDaemon;
let port: number;

before(async () => {
  sts = await startStsPeer();
  peer = await startImdsPeer();
  running = await startDaemon(
    daemonConfig(
      sts.url,
      { web: { role: 'arn:aws:iam::123456789012:role/web-role' } },
      {
        imds: {
          listen: '127.0.0.1:0',
          upstream: peer.url,
          callers: [
            { cidr: '127.0.4.1/32', service: 'web' },
            { cidr: '127.0.4.2/32', service: 'web' },
          ],
        },
      },
    ),
  );
  const address = running.address('imds');
  port = address.kind === 'tcp' ? address.port : 0;
});
after(async () => {
  await running?.stop();
  await peer?.close();
  await sts?.close();
});

/** `count` token PUTs from `localAddress` over keep-alive connections. */
async function putTokens(localAddress: string, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16, localAddress });
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/latest/api/token',
          method: 'PUT',
          agent,
          headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '300' },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PUT answered ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end();
    });
  try {
    for (let done = 0; done < count; done += 64) await Promise.all(Array.from({ length: Math.min(64, count - done) }, one));
  } finally {
    agent.destroy();
  }
}

test("a caller asking for tokens in a loop cannot push out another caller's token", async () => {
  const put = await rawGet(port, '/latest/api/token', [TTL], { localAddress: '127.0.4.1', method: 'PUT' });
  assert.equal(put.status, 200, put.body);
  const victim = `X-aws-ec2-metadata-token: ${put.body}`;
  assert.equal((await rawGet(port, `${CREDS}/`, [victim], { localAddress: '127.0.4.1' })).status, 200);
  await putTokens('127.0.4.2', MAX_TRACKED_TOKENS + MAX_TOKENS_PER_CALLER);
  const after = await rawGet(port, `${CREDS}/web-role`, [victim], { localAddress: '127.0.4.1' });
  assert.equal(after.status, 200, `the victim's token was evicted: ${after.body}`);
});

test('metadata paths without a version prefix, or with segments before it, are refused', async () => {
  for (const target of [
    '/meta-data/iam/security-credentials/',
    '/meta-data/iam/security-credentials/web-role',
    '/meta-data/identity-credentials/ec2/security-credentials/ec2-instance',
    '/user-data',
    '/x/latest/meta-data/iam/security-credentials/',
    '/latest/x/meta-data/iam/security-credentials/',
  ]) {
    const answer = await rawGet(port, target, [], { localAddress: '127.0.4.9' });
    assertRefused(answer, target);
  }
  assert.equal((await rawGet(port, '/latest/meta-data/instance-id', [], { localAddress: '127.0.4.9' })).status, 200);
  assert.equal((await rawGet(port, '/2009-04-04/meta-data/instance-id', [], { localAddress: '127.0.4.9' })).status !== 403, true);
});

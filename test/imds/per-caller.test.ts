/**
 * Per-caller mode against the real daemon: the credentials core assumes each service's role at
 * the STS peer, and the guard answers mapped callers with their service's credentials in IMDS's
 * shape, by source address (127.0.0.2, .3, ... are distinct sources on Linux loopback). Covers the
 * source-IP reuse class: a token binds the address and the service it mapped to when issued.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { daemonConfig } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { type ImdsPeer, PEER_INSTANCE_SECRETS, PEER_NOT_FOUND_BODY, startImdsPeer } from '../peers/imds-peer.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { assertNothingForbiddenReached, assertRefused } from './guard-fixtures.js';
import { rawGet } from './raw-http.js';
import { cliInstanceCredentials, cliMissing, sdkInstanceCredentials } from './real-clients.js';

const ROLE_WEB = 'arn:aws:iam::123456789012:role/web-role';
const ROLE_WORKER = 'arn:aws:iam::123456789012:role/team/worker-role';
const CREDS = '/latest/meta-data/iam/security-credentials';
const TTL = 'X-aws-ec2-metadata-token-ttl-seconds: 300';
const NO_MILLIS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

let sts: StsPeer;
let peer: ImdsPeer;
let running: RunningDaemon;
let port: number;

function config(callers: readonly { cidr: string; service: string }[]): string {
  return daemonConfig(
    sts.url,
    { web: { role: ROLE_WEB }, worker: { role: ROLE_WORKER } },
    { imds: { listen: '127.0.0.1:0', upstream: peer.url, callers } },
  );
}

const CALLERS = [
  { cidr: '127.0.0.1/32', service: 'web' },
  { cidr: '127.0.0.2/32', service: 'web' },
  { cidr: '127.0.0.3/32', service: 'worker' },
];

before(async () => {
  sts = await startStsPeer();
  peer = await startImdsPeer();
  running = await startDaemon(config(CALLERS));
  const address = running.address('imds');
  port = address.kind === 'tcp' ? address.port : 0;
});
after(async () => {
  await running.stop();
  await peer.close();
  await sts.close();
});

const from = (localAddress: string, target: string, lines: string[] = [], method = 'GET') =>
  rawGet(port, target, lines, { localAddress, method });

/** A token issued through the guard to `localAddress`, as the header line that sends it. */
async function tokenFor(localAddress: string): Promise<string> {
  const put = await from(localAddress, '/latest/api/token', [TTL], 'PUT');
  assert.equal(put.status, 200, put.body);
  return `X-aws-ec2-metadata-token: ${put.body}`;
}

test('source-IP mapping: each caller gets its own service, never the instance credentials', async () => {
  for (const [address, role, service] of [
    ['127.0.0.2', 'web-role', 'web'],
    ['127.0.0.3', 'worker-role', 'worker'],
  ] as const) {
    // Without a token (IMDSv1), a mapped caller gets nothing: the address alone proves nothing.
    for (const target of [`${CREDS}/`, `${CREDS}/${role}`]) {
      const bare = await from(address, target);
      assertRefused(bare, `${address} ${target} without a token`, [401]);
      assert.match(bare.body, /per-caller credentials need a token/);
    }
    const token = await tokenFor(address);
    const listing = await from(address, `${CREDS}/`, [token]);
    assert.equal(listing.status, 200);
    assert.equal(listing.body, role);
    const answer = await from(address, `${CREDS}/${role}`, [token]);
    assert.equal(answer.status, 200, answer.body);
    const doc = JSON.parse(answer.body) as Record<string, string>;
    assert.deepEqual(Object.keys(doc), ['Code', 'LastUpdated', 'Type', 'AccessKeyId', 'SecretAccessKey', 'Token', 'Expiration']);
    assert.equal(doc.Code, 'Success');
    assert.equal(doc.Type, 'AWS-HMAC');
    assert.match(doc.Expiration ?? '', NO_MILLIS);
    assert.match(doc.LastUpdated ?? '', NO_MILLIS);
    const issued = await running.daemon.broker.get(service);
    assert.equal(doc.AccessKeyId, issued.accessKeyId, `${address} got ${service}'s credentials`);
    assert.equal(answer.headers['cache-control'], 'no-store');
    // Other roles, deeper paths and the instance's own role are IMDS-style 404s; no slash is a 301.
    for (const other of ['instance-role', role === 'web-role' ? 'worker-role' : 'web-role', `${role}/x`, role.toUpperCase()]) {
      const missing = await from(address, `${CREDS}/${other}`, [token]);
      assert.equal(missing.status, 404, other);
      assert.equal(missing.body, PEER_NOT_FOUND_BODY);
    }
    assert.equal((await from(address, CREDS, [token])).status, 301);
    assert.equal(
      (await from(address, `/2009-04-04/meta-data/iam/security-credentials/${role}`, [token])).status,
      200,
      'any version prefix',
    );
  }
  // Unmapped callers are refused on the IAM paths, token or not; their other paths follow the policy.
  const unmappedToken = await tokenFor('127.0.0.4');
  for (const target of [`${CREDS}/`, `${CREDS}/instance-role`, `${CREDS}/web-role`]) {
    assertRefused(await from('127.0.0.4', target), `unmapped ${target}`, [403]);
    assertRefused(await from('127.0.0.4', target, [unmappedToken]), `unmapped ${target} with a token`, [403]);
  }
  assert.equal((await from('127.0.0.4', '/latest/meta-data/instance-id')).status, 200);
  assertNothingForbiddenReached(peer);
  const secrets: string[] = [...Object.values(PEER_INSTANCE_SECRETS)];
  for (const service of ['web', 'worker']) {
    const c = await running.daemon.broker.get(service);
    secrets.push(c.secretAccessKey, c.sessionToken);
  }
  assertNoSecrets(running.lines, secrets);
});

test('source-IP reuse: a token binds the address and the service it mapped to', async () => {
  const token = await tokenFor('127.0.0.2');
  assert.equal((await from('127.0.0.2', `${CREDS}/web-role`, [token])).status, 200);
  // The same token from another mapped address: refused (and not that address's service either).
  assertRefused(await from('127.0.0.3', `${CREDS}/worker-role`, [token]), 'token from another address', [401]);
  assertRefused(await from('127.0.0.3', `${CREDS}/web-role`, [token]), 'token from another address, its role', [401]);
  // The address is reassigned to another service (a new container on an old address).
  assert.equal(
    await running.reload(
      config([
        { cidr: '127.0.0.2/32', service: 'worker' },
        { cidr: '127.0.0.3/32', service: 'web' },
      ]),
    ),
    true,
  );
  assertRefused(await from('127.0.0.2', `${CREDS}/worker-role`, [token]), 'old token after the address was reassigned', [401]);
  assertRefused(await from('127.0.0.2', `${CREDS}/web-role`, [token]), 'old token, old role', [401]);
  // The new container on the old address leaving the token out gets nothing either.
  assertRefused(await from('127.0.0.2', `${CREDS}/worker-role`), 'no token after the address was reassigned', [401]);
  const fresh = await from('127.0.0.2', '/latest/api/token', [TTL], 'PUT');
  const worker = await from('127.0.0.2', `${CREDS}/worker-role`, [`X-aws-ec2-metadata-token: ${fresh.body}`]);
  assert.equal(worker.status, 200);
  assert.equal((JSON.parse(worker.body) as { AccessKeyId: string }).AccessKeyId, (await running.daemon.broker.get('worker')).accessKeyId);
  // A token the guard never issued is refused too.
  assertRefused(await from('127.0.0.2', `${CREDS}/worker-role`, ['X-aws-ec2-metadata-token: bm90LWlzc3VlZA==']), 'unknown token', [401]);
  assert.equal(await running.reload(config(CALLERS)), true);
  assertNothingForbiddenReached(peer);
});

test('JS SDK fromInstanceMetadata gets the mapped service credentials', async () => {
  const creds = await sdkInstanceCredentials(`http://127.0.0.1:${port}`);
  assert.equal(creds.accessKeyId, (await running.daemon.broker.get('web')).accessKeyId);
  assert.ok(creds.expiration instanceof Date && creds.expiration.getTime() > Date.now());
  assertNothingForbiddenReached(peer);
});

test('botocore (AWS CLI v2 export-credentials) gets the mapped service credentials', { skip: cliMissing }, async () => {
  const creds = await cliInstanceCredentials(`http://127.0.0.1:${port}`, running.dir);
  const web = await running.daemon.broker.get('web');
  assert.equal(creds.AccessKeyId, web.accessKeyId);
  assert.equal(creds.SessionToken, web.sessionToken);
  assertNothingForbiddenReached(peer);
});

test('every decision is counted under the service the source address maps to, not only credential answers', async () => {
  assert.equal((await from('127.0.0.2', '/latest/user-data')).status, 403);
  assert.equal((await from('127.0.0.3', '/latest/meta-data/%2e%2e/user-data')).status, 400);
  assert.equal((await from('127.0.0.4', '/latest/user-data')).status, 403);
  const metrics = await (await fetch(`${running.url('admin')}/metrics`)).text();
  const count = (caller: string, decision: string, rule: string) =>
    Number(
      new RegExp(`sidekey_imds_requests_total\\{caller="${caller}",decision="${decision}",rule="${rule}"\\} (\\d+)`).exec(metrics)?.[1] ??
        0,
    );
  assert.ok(count('web', 'deny', 'default:user-data') >= 1, 'a mapped caller denied: its service');
  assert.ok(count('worker', 'refuse', 'canonical:encoded-dot') >= 1, 'a mapped caller refused: its service');
  assert.ok(count('', 'deny', 'default:user-data') >= 1, 'an unmapped caller: no service');
});

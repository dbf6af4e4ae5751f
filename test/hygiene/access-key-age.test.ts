/**
 * The access-key age check against an IAM peer that verifies SigV4: a key older than 90 days
 * fails, a younger one passes, a refused or unreachable IAM is information only.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { MAX_ACCESS_KEY_AGE_DAYS } from '../../src/core/hygiene/access-key-age.js';
import type { Finding } from '../../src/core/hygiene/finding.js';
import { runChecks } from '../../src/core/hygiene/run-checks.js';
import { createIamPeer, type IamPeerKey } from '../peers/iam-peer.js';
import type { QueryProtocolPeer } from '../peers/query-protocol-peer.js';
import { materialize } from './example-config.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date('2025-06-01T00:00:00Z');
const OLD: IamPeerKey = {
  accessKeyId: 'AKIDOLDKEY0000000001',
  secretAccessKey: 'old-key-secret-for-iam-peer-tests-0001',
  userName: 'sidekey',
  created: new Date(NOW.getTime() - 200 * DAY_MS),
};
const FRESH: IamPeerKey = {
  accessKeyId: 'AKIDFRESHKEY00000001',
  secretAccessKey: 'fresh-key-secret-for-iam-peer-tests-01',
  userName: 'deployer',
  created: new Date(NOW.getTime() - 10 * DAY_MS),
};

let peer: QueryProtocolPeer;
let denying: QueryProtocolPeer;

before(async () => {
  peer = createIamPeer([OLD, FRESH]);
  denying = createIamPeer([OLD], { deny: true });
  await peer.listen();
  await denying.listen();
});
after(async () => {
  await peer.close();
  await denying.close();
});

const CONFIG = `
aws_defaults:
  iam_keys:
    aws_access_key_id: \${fromFile:/run/secrets/key-id}
    aws_secret_access_key: \${fromFile:/run/secrets/key-secret}
services: {}
admin:
  token: \${fromFile:/run/secrets/admin-token}
imds: {}
`;

async function ageFindings(key: IamPeerKey, endpoint: string): Promise<Finding[]> {
  const m = materialize(CONFIG, { files: { 'key-id': key.accessKeyId, 'key-secret': key.secretAccessKey } });
  try {
    const all = await runChecks(m.loaded, { env: { AWS_ENDPOINT_URL_IAM: endpoint }, uid: 1338, now: NOW });
    return all.filter((f) => f.id !== 'long-lived-credentials');
  } finally {
    m.remove();
  }
}

test(`access-key-old: a key created 200 days ago fails (limit ${MAX_ACCESS_KEY_AGE_DAYS} days), without printing the secret`, async () => {
  const list = await ageFindings(OLD, peer.url);
  assert.deepEqual(
    list.map((f) => f.id),
    ['access-key-old'],
  );
  assert.equal(list[0]?.path, 'aws_defaults.iam_keys');
  assert.match(list[0]?.message ?? '', /200 days ago/);
  assert.ok(!JSON.stringify(list).includes(OLD.secretAccessKey));
  assert.ok(
    peer.calls.some((c) => c.action === 'ListAccessKeys'),
    'IAM was asked, with a verified signature',
  );
});

test('a key created 10 days ago passes', async () => {
  assert.deepEqual(await ageFindings(FRESH, peer.url), []);
});

test('access-key-age-unknown: IAM refusing the call is information, not a failure', async () => {
  const list = await ageFindings(OLD, denying.url);
  assert.deepEqual(
    list.map((f) => `${f.id} ${f.severity}`),
    ['access-key-age-unknown info'],
  );
  assert.match(list[0]?.message ?? '', /AccessDenied.*403/);
});

test('access-key-age-unknown: IAM unreachable is information, not a failure', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const list = await ageFindings(OLD, `http://127.0.0.1:${port}`);
  assert.deepEqual(
    list.map((f) => f.id),
    ['access-key-age-unknown'],
  );
  assert.match(list[0]?.message ?? '', /could not be reached/);
});

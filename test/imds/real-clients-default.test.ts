/**
 * Real IMDS clients through the guard in its default mode: both the JS SDK and botocore get a
 * token (the IMDSv2 flow works) and are then refused the instance's credentials.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { PEER_INSTANCE_SECRETS } from '../peers/imds-peer.js';
import { assertNothingForbiddenReached, type GuardUnderTest, startGuard } from './guard-fixtures.js';
import { cliInstanceCredentials, cliMissing, sdkInstanceCredentials } from './real-clients.js';

let g: GuardUnderTest;
before(async () => {
  g = await startGuard();
});
after(() => g.stop());

test('JS SDK fromInstanceMetadata: token issued, instance credentials refused', async () => {
  g.peer.reset();
  await assert.rejects(sdkInstanceCredentials(`http://127.0.0.1:${g.port}`), (error: Error) => {
    assert.ok(!Object.values(PEER_INSTANCE_SECRETS).some((s) => error.message.includes(s)));
    return true;
  });
  assert.ok(
    g.peer.requests.some((r) => r.method === 'PUT' && r.url === '/latest/api/token'),
    'the SDK used the IMDSv2 token flow',
  );
  assertNothingForbiddenReached(g.peer);
  const refused = g.running.lines.filter((l) => l.includes('"access":"imds"') && l.includes('"status":403'));
  assert.ok(
    refused.some((l) => l.includes('"rule":"floor:instance-credentials"')),
    'the refusal names its rule',
  );
  assertNoSecrets(g.running.lines, Object.values(PEER_INSTANCE_SECRETS));
});

test('botocore (AWS CLI v2 export-credentials): instance credentials refused', { skip: cliMissing }, async () => {
  g.peer.reset();
  await assert.rejects(cliInstanceCredentials(`http://127.0.0.1:${g.port}`, g.running.dir), /credentials/i);
  assert.ok(
    g.peer.requests.some((r) => r.method === 'PUT'),
    'botocore used the IMDSv2 token flow',
  );
  assertNothingForbiddenReached(g.peer);
});

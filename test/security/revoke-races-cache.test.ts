/**
 * a fetch whose decrypt was in flight when the version was revoked put the revoked payload
 * back into the cache, and it was served for the TTL. A real daemon on DynamoDB (dynalite) and the
 * KMS peer, which holds the Decrypt answer while the revoke goes through the REST API.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { DynamoDbStore } from '../../src/core/secrets/dynamodb-store.js';
import { httpRequest } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { type Backends, DYNAMO_CREDENTIALS, KMS_ALIAS, REGION, startBackends } from '../secrets/backends.js';

const READER = randomToken();
const ADMIN = randomToken();
let backends: Backends;
let d: RunningDaemon;

before(async () => {
  backends = await startBackends();
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey,
  });
  // serve creates no table: secrets setup does, once.
  await new DynamoDbStore({ table: 'sidekey-revoke-race', region: REGION, credentials: async () => DYNAMO_CREDENTIALS }).setup();
  d = await startDaemon(`
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: cryptex
  cache_ttl_seconds: 300
  store: { type: dynamodb, table: sidekey-revoke-race, region: ${REGION} }
  keyring: { type: kms, key_id: ${KMS_ALIAS}, region: ${REGION} }
  tokens:
    - { id: reader, token: "${READER}", role: reader, application: cryptex }
    - { id: admin, token: "${ADMIN}", role: admin, application: cryptex }
`);
});

after(async () => {
  await d?.stop();
  await backends?.close();
});

function call(method: string, path: string, token: string, body?: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    fetch(`${d.url('secrets')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body } : {}),
    })
      .then(async (res) => resolve({ status: res.status, text: await res.text() }))
      .catch(reject);
  });
}

test('a revoke wins over a fetch whose decrypt was in flight; the revoked payload is never cached', async () => {
  const payload = `revoked-${randomToken(12)}`;
  const created = await call('POST', '/latest/secrets/db', ADMIN, JSON.stringify({ payload }));
  assert.equal(created.status, 200, created.text);
  const hold = backends.kms.holdDecrypts();
  const inFlight = call('GET', '/latest/secrets/db', READER);
  await waitFor(() => hold.waiting() === 1, 'the fetch to reach KMS Decrypt');
  const revoked = await call('POST', '/latest/revoke/db/1', ADMIN);
  assert.equal(revoked.status, 200, revoked.text);
  hold.release();
  await inFlight; // it read the row before the revoke: what it answers is its own business
  const after = await httpRequest(`${d.url('secrets')}/latest/secrets/db`, { authorization: `Bearer ${READER}` });
  assert.notEqual(after.status, 200, 'the revoked payload was served from the cache');
  assert.doesNotMatch(after.text, new RegExp(payload));
});

/**
 * unwrap decrypted with whatever KMS key the stored envelope named, so write access to the
 * table plus a permissive kms:Decrypt on a key of the attacker's planted secrets that the daemon
 * served as its own. A real daemon on DynamoDB (dynalite) and the KMS peer; the attacker writes a
 * version sealed under their own key straight into the table.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { DynamoDbStore } from '../../src/core/secrets/dynamodb-store.js';
import { KmsKeyring } from '../../src/core/secrets/kms-keyring.js';
import { SecretService } from '../../src/core/secrets/secret-service.js';
import { httpRequest } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { type Backends, DYNAMO_CREDENTIALS, KMS_ALIAS, REGION, startBackends } from '../secrets/backends.js';

const TABLE = 'sidekey-pinning';
const READER = randomToken();
const ADMIN = randomToken();
const PLANTED = `planted-${randomToken(12)}`;
const OLD_VALUE = `old-${randomToken(12)}`;
const OLD_ALIAS = 'alias/sidekey-old';
let backends: Backends;
let d: RunningDaemon;
let attackerKey: string;

const config = (previous: string[] = []) => `
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: cryptex
  cache_ttl_seconds: 0
  store: { type: dynamodb, table: ${TABLE}, region: ${REGION} }
  keyring: { type: kms, key_id: ${KMS_ALIAS}, region: ${REGION}, previous_key_ids: ${JSON.stringify(previous)} }
  tokens:
    - { id: reader, token: "${READER}", role: reader, application: cryptex }
    - { id: admin, token: "${ADMIN}", role: admin, application: cryptex }
`;

function serviceUnder(alias: string): SecretService {
  return new SecretService({
    store: new DynamoDbStore({ table: TABLE, region: REGION, credentials: async () => DYNAMO_CREDENTIALS }),
    keyring: new KmsKeyring({ keyId: alias, region: REGION, credentials: async () => backends.kms.credentials }),
  });
}

before(async () => {
  backends = await startBackends();
  attackerKey = backends.kms.createKey('alias/attacker');
  backends.kms.createKey(OLD_ALIAS);
  const env = { AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey };
  Object.assign(process.env, env);
  const attacker = serviceUnder('alias/attacker');
  await attacker.store.setup();
  await attacker.create('cryptex', 'planted', PLANTED, { actor: 'attacker' });
  await attacker.close();
  const old = serviceUnder(OLD_ALIAS);
  await old.create('cryptex', 'moved', OLD_VALUE, { actor: 'before-the-move' });
  await old.close();
  d = await startDaemon(config());
});

after(async () => {
  await d?.stop();
  await backends?.close();
});

const fetchSecret = (name: string) => httpRequest(`${d.url('secrets')}/latest/secrets/${name}`, { authorization: `Bearer ${READER}` });

test('a version wrapped under a KMS key other than the configured one is refused, never served', async () => {
  const answer = await fetchSecret('planted');
  assert.equal(answer.status, 500, answer.text);
  assert.doesNotMatch(answer.text, new RegExp(PLANTED));
  const line = d.lines.find((l) => l.includes('was not made under the configured KMS key'));
  assert.ok(line, d.lines.slice(-5).join('\n'));
  const decrypts = backends.kms.calls.filter((c) => c.operation === 'Decrypt');
  assert.ok(
    decrypts.every((c) => c.keyId !== attackerKey),
    'the attacker key decrypted something',
  );
  assertNoSecrets(d.lines, [PLANTED, READER, ADMIN]);
});

test('previous_key_ids lets versions from before a key move be read, and only those keys', async () => {
  assert.equal((await fetchSecret('moved')).status, 500, 'not listed yet: refused');
  // The keyring takes effect on restart.
  await d.stop();
  d = await startDaemon(config([OLD_ALIAS]));
  const moved = await fetchSecret('moved');
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.json().payload, OLD_VALUE);
  assert.equal((await fetchSecret('planted')).status, 500, 'the attacker key is still refused');
});

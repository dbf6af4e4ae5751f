/**
 * What a user moving from ecs-secrets meets first, against a real daemon and the real CLI:
 * names as ecs-secrets users write them, Host names from docker links and compose (allowed_hosts),
 * a revoke from the CLI seen by the serving daemon at once (not after the cache TTL), and a
 * daemon that never creates its DynamoDB table (least-privilege roles do not grant CreateTable).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { DynamoDbStore } from '../../src/core/secrets/dynamodb-store.js';
import { httpRequest } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { runCli } from '../helpers/run-cli.js';
import { type Backends, DYNAMO_CREDENTIALS, KMS_ALIAS, REGION, startBackends } from './backends.js';

const ADMIN = randomToken();
const READER = randomToken();

const sqliteConfig = `
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: cryptex
  cache_ttl_seconds: 300
  allowed_hosts: ["ecs-secrets:8080", "secrets.internal"]
  store: { type: sqlite, path: ./data/secrets.db }
  keyring: { type: local, key_file: ./data/master.key }
  tokens:
    - { id: deployer, token: "${ADMIN}", role: admin, application: cryptex }
    - { id: reader, token: "${READER}", role: reader, application: cryptex, names: ["com.foo.*", "DB_*"] }
`;

describe('on SQLite', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon(sqliteConfig);
  });
  after(async () => {
    await d?.stop();
  });

  const call = (method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${d.url('secrets')}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body ? { body: JSON.stringify(body) } : {}),
    }).then(async (r) => ({ status: r.status, text: await r.text() }));

  test('names with dots, underscores and capitals, as ecs-secrets users write them, work end to end', async () => {
    for (const name of ['com.foo.app1.mysql', 'DB_PASSWORD', 'Db-Password.v2', '_internal']) {
      const created = await call('POST', `/latest/secrets/${name}`, ADMIN, { payload: `value-of-${name}` });
      assert.equal(created.status, 200, `${name}: ${created.text}`);
    }
    const fetched = await call('GET', '/latest/secrets/com.foo.app1.mysql', READER);
    assert.equal(fetched.status, 200, fetched.text);
    assert.equal(JSON.parse(fetched.text).payload, 'value-of-com.foo.app1.mysql');
    assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD', READER)).status, 200);
    assert.equal((await call('GET', '/latest/secrets/Db-Password.v2', READER)).status, 403, 'outside the reader names');
  });

  test('separators, dot-dot, encoded tricks and control characters are still refused', async () => {
    for (const path of ['a..b', '..', '.hidden', 'a%2Fb', '%2E%2E', 'a%00b', 'a%0Ab', 'a%20b', 'a~b', 'a%5Cb']) {
      const answer = await call('POST', `/latest/secrets/${path}`, ADMIN, { payload: 'x' });
      assert.ok(answer.status === 400 || answer.status === 404, `${path}: ${answer.status} ${answer.text}`);
    }
  });

  test('allowed_hosts lets clients use a docker link or compose name; other names are still refused', async () => {
    const url = `${d.url('secrets')}/latest/secrets/DB_PASSWORD`;
    const auth = { authorization: `Bearer ${READER}` };
    assert.equal((await httpRequest(url, { ...auth, host: 'ecs-secrets:8080' })).status, 200);
    assert.equal((await httpRequest(url, { ...auth, host: 'secrets.internal' })).status, 200);
    assert.equal((await httpRequest(url, { ...auth, host: 'attacker.example' })).status, 403);
  });

  test('a revoke by the CLI in direct mode is refused by the serving daemon at its next fetch', async () => {
    const created = await call('POST', '/latest/secrets/DB_ROTATED', ADMIN, { payload: 'soon-revoked' });
    assert.equal(created.status, 200, created.text);
    assert.equal((await call('GET', '/latest/secrets/DB_ROTATED', READER)).status, 200);
    assert.equal((await call('GET', '/latest/secrets/DB_ROTATED', READER)).status, 200, 'served from the cache');
    const revoked = await runCli(['secrets', 'revoke', '--config', d.configFile, '--name', 'DB_ROTATED', '--serial', '1']);
    assert.equal(revoked.code, 0, revoked.stderr);
    const after = await call('GET', '/latest/secrets/DB_ROTATED', READER);
    assert.equal(after.status, 410, after.text);
    assert.doesNotMatch(after.text, /soon-revoked/);
  });
});

describe('on DynamoDB', () => {
  let backends: Backends;
  before(async () => {
    backends = await startBackends();
  });
  after(async () => {
    await backends?.close();
  });

  test('serve never creates the table (a missing one is an error naming the command); a revoke from another process is seen at once', async () => {
    const config = `
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: cryptex
  store: { type: dynamodb, table: ECS-Secrets-cryptex-Secrets, region: ${REGION} }
  keyring: { type: kms, key_id: ${KMS_ALIAS}, region: ${REGION} }
  tokens:
    - { id: reader, token: "${READER}", role: reader, application: cryptex }
`;
    process.env.AWS_ACCESS_KEY_ID = backends.kms.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = backends.kms.credentials.secretAccessKey;
    await assert.rejects(
      startDaemon(config),
      /the DynamoDB table ECS-Secrets-cryptex-Secrets does not exist: create it once with sidekey secrets setup/,
    );
    await new DynamoDbStore({ table: 'ECS-Secrets-cryptex-Secrets', region: REGION, credentials: async () => DYNAMO_CREDENTIALS }).setup();
    const d = await startDaemon(
      config
        .replace('application: cryptex', 'application: cryptex\n  cache_ttl_seconds: 300')
        .replace(
          'application: cryptex }',
          `application: cryptex }\n    - { id: deployer, token: "${ADMIN}", role: admin, application: cryptex }`,
        ),
    );
    try {
      const call = (method: string, path: string, body?: unknown) =>
        fetch(`${d.url('secrets')}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${method === 'POST' ? ADMIN : READER}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));
      assert.equal((await call('POST', '/latest/secrets/DB_PASSWORD', { payload: 'v1' })).status, 200);
      assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD')).json.payload, 'v1');
      assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD/1')).json.payload, 'v1');
      const cli = (args: string[], input?: string) =>
        runCli(['secrets', ...args, '--config', d.configFile], { env: { ...backends.env }, ...(input ? { input } : {}) });
      // Another process writes a new version, then revokes it: the daemon sees both at its next fetch.
      const created = await cli(['create', '--name', 'DB_PASSWORD'], 'v2');
      assert.equal(created.code, 0, created.stderr);
      assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD')).json.payload, 'v2');
      assert.equal((await cli(['revoke', '--name', 'DB_PASSWORD', '--serial', '1'])).code, 0);
      assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD/1')).status, 410);
      assert.equal((await cli(['revoke', '--name', 'DB_PASSWORD', '--serial', '2'])).code, 0);
      assert.equal((await call('GET', '/latest/secrets/DB_PASSWORD')).status, 410);
    } finally {
      await d.stop();
    }
  });
});

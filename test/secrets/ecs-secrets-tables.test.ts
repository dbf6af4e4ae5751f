/**
 * sidekey on ecs-secrets' own tables (`store: { type: ecs-secrets }`), both directions, against
 * dynalite and the KMS peer. Items "written by ecs-secrets" are made here from the reference
 * (as observed, and as that tool's crypt and dao modules describe them), not with
 * sidekey's code: `GenerateDataKey` on `alias/ECSSecretsMaskerKey-<app>` with no context,
 * AES-256-GCM with a random 12-byte nonce and no AAD, `EncryptedData` = base64(nonce | ciphertext |
 * tag) and `EncryptedDataKey` = base64(CiphertextBlob) as strings, `Name` the bare name.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { freePort } from '../helpers/free-port.js';
import { runCli } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/wait-for.js';
import { type Backends, DYNAMO_CREDENTIALS, REGION, startBackends } from './backends.js';

const APP = 'cryptex';
const TABLE = `ECS-Secrets-${APP}-Secrets`;
const ALIAS = `alias/ECSSecretsMaskerKey-${APP}`;
const ADMIN = randomToken();
const READER = randomToken();
let backends: Backends;
let dynamo: DynamoDBClient;
let kms: KMSClient;
let d: RunningDaemon;

/** What ecs-secrets' Save writes for one version. */
async function writeAsEcsSecrets(name: string, serial: number, payload: string, active = true): Promise<void> {
  const key = await kms.send(new GenerateDataKeyCommand({ KeyId: ALIAS, KeySpec: 'AES_256' }));
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key.Plaintext as Uint8Array), nonce);
  const blob = Buffer.concat([nonce, cipher.update(payload, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  await dynamo.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: {
        Name: { S: name },
        Serial: { N: String(serial) },
        EncryptedData: { S: blob.toString('base64') },
        EncryptedDataKey: { S: Buffer.from(key.CiphertextBlob as Uint8Array).toString('base64') },
        Active: { BOOL: active },
      },
    }),
  );
}

/** What ecs-secrets' Get does with an item: Decrypt the data key with no context, then AES-256-GCM. */
async function readAsEcsSecrets(name: string, serial: number): Promise<{ active: boolean; payload: string }> {
  const out = await dynamo.send(new GetItemCommand({ TableName: TABLE, Key: { Name: { S: name }, Serial: { N: String(serial) } } }));
  const item = out.Item;
  assert.ok(item, `no item ${name}#${serial}`);
  const active = item.Active?.BOOL === true;
  if (!active) return { active, payload: '' };
  assert.equal(typeof item.EncryptedData?.S, 'string', 'EncryptedData is a string attribute');
  assert.equal(typeof item.EncryptedDataKey?.S, 'string', 'EncryptedDataKey is a string attribute');
  const key = await kms.send(new DecryptCommand({ CiphertextBlob: Buffer.from(item.EncryptedDataKey?.S as string, 'base64') }));
  const blob = Buffer.from(item.EncryptedData?.S as string, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key.Plaintext as Uint8Array), blob.subarray(0, 12));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return { active, payload: Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]).toString('utf8') };
}

const config = `
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: ${APP}
  cache_ttl_seconds: 0
  store: { type: ecs-secrets, region: ${REGION} }
  tokens:
    - { id: deployer, token: "${ADMIN}", role: admin, application: ${APP} }
    - { id: reader, token: "${READER}", role: reader, application: ${APP} }
`;

before(async () => {
  backends = await startBackends();
  backends.kms.createKey(ALIAS);
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey,
  });
  dynamo = new DynamoDBClient({ region: REGION, endpoint: backends.dynamoUrl, credentials: DYNAMO_CREDENTIALS });
  kms = new KMSClient({ region: REGION, endpoint: backends.kms.url, credentials: backends.kms.credentials });
  // The table as ecs-secrets' CloudFormation stack makes it.
  await dynamo.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [
        { AttributeName: 'Name', AttributeType: 'S' },
        { AttributeName: 'Serial', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'Name', KeyType: 'HASH' },
        { AttributeName: 'Serial', KeyType: 'RANGE' },
      ],
      ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
    }),
  );
  await writeAsEcsSecrets('com.foo.app1.mysql', 1, 'first-password');
  await writeAsEcsSecrets('com.foo.app1.mysql', 2, 'second-password');
  await writeAsEcsSecrets('com.foo.app1.mysql', 3, 'revoked-password', false);
  d = await startDaemon(config);
});

after(async () => {
  await d?.stop();
  dynamo?.destroy();
  kms?.destroy();
  await backends?.close();
});

const call = (method: string, path: string, token: string, body?: unknown) =>
  fetch(`${d.url('secrets')}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  }).then(async (r) => ({ status: r.status, json: (await r.json().catch(() => ({}))) as Record<string, unknown> }));

test('versions written by ecs-secrets are read by sidekey: by serial, latest active, and revoked', async () => {
  assert.deepEqual((await call('GET', '/latest/secrets/com.foo.app1.mysql/1', READER)).json, {
    name: 'com.foo.app1.mysql',
    serial: 1,
    payload: 'first-password',
    active: true,
  });
  const latest = await call('GET', '/latest/secrets/com.foo.app1.mysql', READER);
  assert.equal(latest.status, 200);
  assert.equal(latest.json.serial, 2, 'latest skips the revoked serial 3');
  assert.equal(latest.json.payload, 'second-password');
  assert.equal((await call('GET', '/latest/secrets/com.foo.app1.mysql/3', READER)).status, 410);
});

test('versions sidekey writes are read back by ecs-secrets, in its attribute layout and format', async () => {
  const created = await call('POST', '/latest/secrets/com.foo.app1.mysql', ADMIN, { payload: 'written-by-sidekey' });
  assert.equal(created.status, 200);
  assert.equal(created.json.serial, 4);
  assert.deepEqual(await readAsEcsSecrets('com.foo.app1.mysql', 4), { active: true, payload: 'written-by-sidekey' });
  const fresh = await call('POST', '/latest/secrets/DB_PASSWORD', ADMIN, { payload: 'brand-new' });
  assert.equal(fresh.json.serial, 1);
  assert.deepEqual(await readAsEcsSecrets('DB_PASSWORD', 1), { active: true, payload: 'brand-new' });
  assert.equal((await call('POST', '/latest/revoke/DB_PASSWORD/1', ADMIN)).status, 200);
  assert.deepEqual(await readAsEcsSecrets('DB_PASSWORD', 1), { active: false, payload: '' });
});

test('a data key made under another KMS key than the application alias is refused', async () => {
  const other = backends.kms.createKey('alias/not-ecs-secrets');
  const key = await kms.send(new GenerateDataKeyCommand({ KeyId: other, KeySpec: 'AES_256' }));
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key.Plaintext as Uint8Array), nonce);
  const blob = Buffer.concat([nonce, cipher.update('planted', 'utf8'), cipher.final(), cipher.getAuthTag()]);
  await dynamo.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: {
        Name: { S: 'planted' },
        Serial: { N: '1' },
        EncryptedData: { S: blob.toString('base64') },
        EncryptedDataKey: { S: Buffer.from(key.CiphertextBlob as Uint8Array).toString('base64') },
        Active: { BOOL: true },
      },
    }),
  );
  const answer = await call('GET', '/latest/secrets/planted', READER);
  assert.equal(answer.status, 500);
  assert.doesNotMatch(JSON.stringify(answer.json), /planted"/);
});

test('secrets import copies every version into a sidekey store, keeps serials and revocations, and can run again', async () => {
  const file = join(d.dir, 'import.yaml');
  writeFileSync(
    file,
    `secrets:\n  application: ${APP}\n  store: { type: sqlite, path: ./imported/secrets.db }\n  keyring: { type: local, key_file: ./imported/master.key }\n`,
  );
  const env = {
    ...backends.env,
    AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey,
  };
  const importCli = (extra: string[]) => runCli(['secrets', 'import', '--config', file, '--from-region', REGION, ...extra], { env });
  const dry = await importCli(['--dry-run']);
  const dryReport = JSON.parse(dry.stdout) as { imported: string[]; failed: string[] };
  assert.ok(dryReport.imported.includes(`${APP}/com.foo.app1.mysql#1`), dry.stdout);
  const fetchImported = (name: string, serial: number) =>
    runCli(['secrets', 'fetch', '--config', file, '--name', name, '--serial', String(serial), '--raw']);
  assert.notEqual((await fetchImported('com.foo.app1.mysql', 1)).code, 0, 'a dry run writes nothing');

  const first = await importCli([]);
  const report = JSON.parse(first.stdout) as { imported: string[]; revoked: string[]; skipped: string[]; failed: string[] };
  assert.ok(
    report.failed.some((f) => f.startsWith(`${APP}/planted#1`)),
    'the planted version is named as failed',
  );
  assert.equal(first.code, 1, 'a failure makes the run exit 1');
  assert.deepEqual(report.revoked.sort(), [`${APP}/DB_PASSWORD#1`, `${APP}/com.foo.app1.mysql#3`]);
  assert.equal((await fetchImported('com.foo.app1.mysql', 1)).stdout, 'first-password');
  assert.equal((await fetchImported('com.foo.app1.mysql', 4)).stdout, 'written-by-sidekey');
  const revoked = await fetchImported('com.foo.app1.mysql', 3);
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, /serial 3 of secret "com\.foo\.app1\.mysql" in application "cryptex" is revoked/);

  const again = JSON.parse((await importCli([])).stdout) as { imported: string[]; skipped: string[] };
  assert.deepEqual(again.imported, [], 'nothing is copied twice');
  assert.ok(again.skipped.length >= 5);
  // The source is untouched.
  assert.deepEqual(await readAsEcsSecrets('com.foo.app1.mysql', 1), { active: true, payload: 'first-password' });
});

/** The `ecs-secrets` command (the package's second bin), configured from the environment only, as ecs-secrets is. */
function ecsSecretsCli(
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    ...backends.env,
    AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey,
    ...extraEnv,
  };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [fileURLToPath(new URL('../../src/cli/ecs-secrets-main.js', import.meta.url)), ...args],
      { env },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') return reject(error);
        resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

test("the ecs-secrets command: the seed's create, fetch and revoke, with its output lines, on its own tables", async () => {
  const created = await ecsSecretsCli(['create', '--application-name', APP, '--name', 'dbpassword', '--payload', 'mydbpassword']);
  assert.equal(created.code, 0, created.stderr);
  assert.match(
    created.stdout,
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z \[INFO\] Created application secret with name: dbpassword and version: 1\n$/,
  );
  writeFileSync(join(d.dir, 'secret.txt'), 'from-a-file\n');
  const second = await ecsSecretsCli([
    'store',
    '--application-name',
    APP,
    '--name',
    'dbpassword',
    '--payload-location',
    join(d.dir, 'secret.txt'),
  ]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /Created application secret with name: dbpassword and version: 2/);
  assert.equal((await readAsEcsSecrets('dbpassword', 1)).payload, 'mydbpassword', 'ecs-secrets reads what the command wrote');
  assert.equal((await readAsEcsSecrets('dbpassword', 2)).payload, 'from-a-file\n', 'a payload file is read byte for byte');
  const revoked = await ecsSecretsCli(['revoke', '--application-name', APP, '--name', 'dbpassword', '--serial', '1']);
  assert.match(revoked.stdout, /\[INFO\] Revoked secret: dbpassword\n$/);
  const fetched = await ecsSecretsCli(['fetch', '--application-name', APP, '--name', 'dbpassword', '--serial', '1']);
  assert.equal(fetched.stdout, '{"name":"dbpassword","serial":1,"payload":"","active":false}\n');
  const latest = await ecsSecretsCli(['get', '--application-name', APP, '--name', 'com.foo.app1.mysql']);
  assert.equal(JSON.parse(latest.stdout).serial, 4);
  const missing = await ecsSecretsCli(['fetch', '--application-name', APP, '--name', 'nope']);
  assert.equal(missing.code, 1);
  assert.notEqual(missing.stderr, '');
  const noApp = await ecsSecretsCli(['fetch', '--name', 'dbpassword']);
  assert.equal(noApp.code, 1);
  assert.match(noApp.stderr, /--application-name/);
  // Problems in what the flags and the environment give are named by the flag or variable.
  const badApp = await ecsSecretsCli(['fetch', '--application-name', 'My App', '--name', 'dbpassword']);
  assert.equal(badApp.code, 1);
  assert.match(badApp.stderr, /^--application-name: must not contain shell metacharacters or spaces, got "My App"$/m);
  assert.doesNotMatch(badApp.stderr, /ecs-secrets-environment|secrets\.application/);
  const badListen = await ecsSecretsCli(['daemon', '--application-name', APP], { SIDEKEY_ECS_SECRETS_LISTEN: 'nope' });
  assert.equal(badListen.code, 1);
  assert.match(badListen.stderr, /^SIDEKEY_ECS_SECRETS_LISTEN: expected HOST:PORT.*got "nope"$/m);
});

/** Runs `ecs-secrets daemon` with these extra environment variables until its API is up. */
async function startEcsSecretsDaemon(env: Record<string, string>): Promise<{ stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('../../src/cli/ecs-secrets-main.js', import.meta.url)), 'daemon', '--application-name', APP],
    {
      env: {
        ...process.env,
        ...backends.env,
        AWS_ACCESS_KEY_ID: backends.kms.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: backends.kms.credentials.secretAccessKey,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  };
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  try {
    await waitFor(() => out.includes("ecs-secrets' API up") || child.exitCode !== null, "ecs-secrets' API", 10_000);
    assert.ok(out.includes("ecs-secrets' API up"), out);
  } catch (error) {
    await stop();
    assert.fail(`the daemon did not come up: ${out} (${(error as Error).message})`);
  }
  return { stop };
}

test('ecs-secrets daemon serves its REST answers on loopback', async () => {
  const port = await freePort();
  const daemon = await startEcsSecretsDaemon({ SIDEKEY_ECS_SECRETS_LISTEN: `127.0.0.1:${port}` });
  try {
    const answer = await fetch(`http://127.0.0.1:${port}/latest/secrets/com.foo.app1.mysql/1`);
    assert.equal(await answer.text(), '{"name":"com.foo.app1.mysql","serial":1,"payload":"first-password","active":true}\n');
  } finally {
    await daemon.stop();
  }
});

test('ecs-secrets daemon with a token file serves linked containers on every interface, only with the token', async () => {
  const port = await freePort();
  const token = randomToken();
  const tokenFile = join(d.dir, 'ecs-secrets.token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const daemon = await startEcsSecretsDaemon({
    SIDEKEY_ECS_SECRETS_LISTEN: `0.0.0.0:${port}`,
    SIDEKEY_ECS_SECRETS_TOKEN_FILE: tokenFile,
    SIDEKEY_ECS_SECRETS_ALLOWED_HOSTS: `ecs-secrets:${port}`,
  });
  // A docker link's name, as the seed's curl containers use it.
  const curl = (...args: string[]) =>
    new Promise<{ stdout: string; status: number }>((resolve, reject) => {
      execFile(
        'curl',
        [
          '-s',
          '-w',
          '\n%{http_code}',
          '--resolve',
          `ecs-secrets:${port}:127.0.0.1`,
          ...args,
          `ecs-secrets:${port}/latest/secrets/com.foo.app1.mysql/1`,
        ],
        (error, stdout) => {
          if (error) return reject(error);
          const at = stdout.lastIndexOf('\n');
          resolve({ stdout: stdout.slice(0, at), status: Number(stdout.slice(at + 1)) });
        },
      );
    });
  try {
    assert.deepEqual(await curl(), { stdout: '', status: 401 }, 'no token');
    assert.deepEqual(await curl('-H', `Authorization: Bearer ${randomToken()}`), { stdout: '', status: 401 }, 'another token');
    assert.deepEqual(await curl('-H', `Authorization: Bearer ${token}`), {
      stdout: '{"name":"com.foo.app1.mysql","serial":1,"payload":"first-password","active":true}\n',
      status: 200,
    });
  } finally {
    await daemon.stop();
  }
});

test('ecs-secrets daemon refuses a token file that group or others can read, and does not print the token', async () => {
  const token = randomToken();
  const tokenFile = join(d.dir, 'loose.token');
  writeFileSync(tokenFile, token);
  chmodSync(tokenFile, 0o644);
  const out = await ecsSecretsCli(['daemon', '--application-name', APP], { SIDEKEY_ECS_SECRETS_TOKEN_FILE: tokenFile });
  assert.equal(out.code, 1);
  assert.match(out.stderr, /has mode 0644: group and others must have no access \(chmod 600 /);
  assert.ok(!`${out.stdout}${out.stderr}`.includes(token));
});

test('sidekey policy scopes a fetch role to the application table and its KMS alias', async () => {
  const file = join(d.dir, 'policy.yaml');
  writeFileSync(file, config);
  const out = await runCli(['policy', '--config', file, '--account-id', '123456789012']);
  assert.equal(out.code, 0, out.stderr);
  type Statement = { Action: string[]; Resource: string[]; Condition?: Record<string, Record<string, string[]>> };
  const set = JSON.parse(out.stdout) as { policies: { name: string; document: { Statement: Statement[] } }[] };
  const fetchRole = set.policies.find((p) => p.name === `sidekey-secrets-fetch-${APP}`);
  assert.ok(fetchRole, out.stdout);
  const [kmsStatement, table] = fetchRole.document.Statement;
  assert.deepEqual(kmsStatement?.Action, ['kms:Decrypt']);
  assert.deepEqual(kmsStatement?.Condition?.StringEquals?.['kms:RequestAlias'], [ALIAS]);
  assert.deepEqual(table?.Action, ['dynamodb:GetItem', 'dynamodb:Query']);
  assert.deepEqual(table?.Resource, [`arn:aws:dynamodb:${REGION}:123456789012:table/${TABLE}`]);
});

test('sidekey check says what the ecs-secrets format gives up', async () => {
  const file = join(d.dir, 'check.yaml');
  writeFileSync(file, config);
  const check = await runCli(['check', '--config', file, '--format', 'json', '--offline']);
  const findings = (JSON.parse(check.stdout) as { findings: { id: string; message: string }[] }).findings;
  const legacy = findings.find((f) => f.id === 'secrets-legacy-format');
  assert.ok(legacy, check.stdout);
  assert.match(legacy.message, /no encryption context or AAD/);
});

/**
 * `sidekey secrets` as users run it: the built CLI in a child process, directly on the store
 * (SQLite + local key; DynamoDB + KMS through dynalite and the KMS peer) and against a running
 * daemon with bearer-token files.
 */
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type Backends, KMS_ALIAS, REGION, startBackends } from './backends.js';

type Cli = (args: string[], stdin?: string) => Promise<{ code: number | null; stdout: string; stderr: string }>;

/**
 * A directory of its own for one test, with the SQLite + local key config; `setUp` also runs
 * `secrets setup`, so each test starts from a known store whatever ran before it.
 */
async function sqliteDir(setUp = true): Promise<{ path: string; cli: Cli; remove(): void }> {
  const dir = tempDir('sidekey-cli-');
  writeFileSync(
    join(dir.path, 'sidekey.yaml'),
    'secrets:\n  application: cryptex\n  store: { type: sqlite, path: ./data/secrets.db }\n  keyring: { type: local, key_file: ./data/master.key }\n',
  );
  const cli: Cli = (args, stdin) => runCli(['secrets', ...args], { cwd: dir.path, ...(stdin !== undefined ? { input: stdin } : {}) });
  if (setUp) {
    const setup = await cli(['setup']);
    assert.equal(setup.code, 0, setup.stderr);
  }
  return { path: dir.path, cli, remove: () => dir.remove() };
}

/** Creates each `name=value` in order (two of one name make serials 1 and 2). */
async function seed(cli: Cli, ...entries: string[]): Promise<void> {
  for (const entry of entries) {
    const [name, value] = entry.split('=') as [string, string];
    const created = await cli(['create', '--name', name], value);
    assert.equal(created.code, 0, created.stderr);
  }
}

describe('direct mode: SQLite store, local key file', () => {
  const dirs: { remove(): void }[] = [];
  const fresh = async (setUp = true) => {
    const dir = await sqliteDir(setUp);
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) dir.remove();
  });

  test('setup creates the store and a 0600 key file', async () => {
    const { path, cli } = await fresh(false);
    const setup = await cli(['setup']);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stderr, /no IAM needed/);
    assert.equal(statSync(join(path, 'data/master.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(path, 'data')).mode & 0o777, 0o700);
  });

  test('create from stdin, a file and --payload (warned); fetch, history, list', async () => {
    const { path, cli } = await fresh();
    assert.deepEqual(JSON.parse((await cli(['create', '--name', 'dbpassword'], 'from-stdin\n')).stdout), {
      name: 'dbpassword',
      serial: 1,
      active: true,
    });
    writeFileSync(join(path, 'cert.pem'), '-----BEGIN-----\nabc\n-----END-----\n');
    assert.equal((await cli(['create', '--name', 'cert', '--payload-location', 'cert.pem'])).code, 0);
    const flagged = await cli(['create', '--application-name', 'other', '--name', 'dbpassword', '--payload', 'from-flag']);
    assert.match(flagged.stderr, /--payload puts the secret in your shell history/);
    assert.equal((await cli(['fetch', '--name', 'dbpassword', '--raw'])).stdout, 'from-stdin');
    assert.equal((await cli(['fetch', '--name', 'cert', '--raw'])).stdout, '-----BEGIN-----\nabc\n-----END-----\n');
    assert.deepEqual(JSON.parse((await cli(['fetch', '--application-name', 'other', '--name', 'dbpassword'])).stdout), {
      name: 'dbpassword',
      serial: 1,
      payload: 'from-flag',
      active: true,
    });
    assert.equal((await cli(['list'])).stdout, 'cert\ndbpassword\n');
    const history = JSON.parse((await cli(['history', '--name', 'dbpassword'])).stdout) as { serial: number; created_by: string }[];
    assert.equal(history[0]?.serial, 1);
    assert.match(history[0]?.created_by ?? '', /^cli:/);
  });

  test('revoke, then fetch exits 1 naming the revoked serial; bad input exits non-zero with its message', async () => {
    const { cli } = await fresh();
    await seed(cli, 'dbpassword=first', 'dbpassword=second');
    assert.equal((await cli(['revoke', '--name', 'dbpassword', '--serial', '2'])).code, 0);
    const revoked = await cli(['fetch', '--name', 'dbpassword', '--serial', '2']);
    assert.equal(revoked.code, 1);
    assert.match(revoked.stderr, /serial 2 of secret "dbpassword" in application "cryptex" is revoked/);
    assert.equal(JSON.parse((await cli(['fetch', '--name', 'dbpassword'])).stdout).serial, 1);
    const badName = await cli(['fetch', '--name', 'db..x']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /invalid secret name "db\.\.x": must not contain path traversal/);
    assert.match((await cli(['fetch', '--name', 'x', '--serial', '0'])).stderr, /invalid --serial "0"/);
    assert.equal((await cli(['delete', '--name', 'cert'])).code, 2);
    const cas = await cli(['create', '--name', 'dbpassword', '--expected-serial', '0'], 'x');
    assert.match(cas.stderr, /expected current serial 0, it is 2/);
  });

  test('rotate, restore, export json and dotenv, exec with --pristine', async () => {
    const { path, cli } = await fresh();
    await seed(cli, 'dbpassword=from-stdin', 'dbpassword=second');
    writeFileSync(join(path, 'cert.pem'), '-----BEGIN-----\nabc\n-----END-----\n');
    assert.equal((await cli(['create', '--name', 'cert', '--payload-location', 'cert.pem'])).code, 0);
    const rotated = JSON.parse((await cli(['rotate', '--name', 'api-token', '--length', '20', '--alphabet', 'hex'])).stdout) as {
      serial: number;
    };
    assert.equal(rotated.serial, 1);
    assert.match((await cli(['fetch', '--name', 'api-token', '--raw'])).stdout, /^[0-9a-f]{20}$/);
    assert.equal(JSON.parse((await cli(['restore', '--name', 'dbpassword', '--serial', '1'])).stdout).serial, 3);
    const json = JSON.parse((await cli(['export', '--name', 'dbpassword', '--name', 'cert'])).stdout) as Record<string, string>;
    assert.deepEqual(json, { dbpassword: 'from-stdin', cert: '-----BEGIN-----\nabc\n-----END-----\n' });
    const dotenv = (await cli(['export', '--format', 'dotenv'])).stdout;
    assert.match(dotenv, /^CERT='-----BEGIN-----\nabc\n-----END-----\n'$/m);
    assert.match(dotenv, /^DBPASSWORD='from-stdin'$/m);
    const script = 'process.stdout.write(JSON.stringify([process.env.DB_PASSWORD, process.env.HOME ?? null])); process.exit(7)';
    const exec = await cli(['exec', '--env', 'DB_PASSWORD=dbpassword:2', '--pristine', '--', process.execPath, '-e', script]);
    assert.equal(exec.code, 7, exec.stderr);
    assert.deepEqual(JSON.parse(exec.stdout), ['second', null]);
    assert.match((await cli(['exec', '--env', '1BAD=x', '--', 'true'])).stderr, /not a valid environment variable name/);
  });

  test('rewrap --add-key moves every data key to a new master key; payloads still decrypt', async () => {
    const { path, cli } = await fresh();
    await seed(cli, 'dbpassword=first', 'dbpassword=second', 'cert=pem');
    const result = await cli(['rewrap', '--add-key']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { rewrapped: number; unchanged: number };
    assert.equal(report.rewrapped, 3, result.stdout);
    assert.equal(report.unchanged, 0);
    assert.equal(JSON.parse((await cli(['rewrap'])).stdout).rewrapped, 0);
    // Drop the old key: everything must still open under the new one alone.
    const keyFile = join(path, 'data/master.key');
    const lines = readFileSync(keyFile, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    writeFileSync(keyFile, `${lines.at(-1)}\n`, { mode: 0o600 });
    assert.equal((await cli(['fetch', '--name', 'dbpassword', '--serial', '1', '--raw'])).stdout, 'first');
    assert.equal((await cli(['fetch', '--name', 'cert', '--raw'])).stdout, 'pem');
  });

  test('a key file readable by others is refused', async () => {
    const { path, cli } = await fresh();
    await seed(cli, 'dbpassword=value');
    chmodSync(join(path, 'data/master.key'), 0o644);
    const result = await cli(['fetch', '--name', 'dbpassword']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has mode 0644: group and others must have no access \(chmod 600 /);
  });
});

describe('direct mode: DynamoDB table and KMS key', () => {
  const dir = tempDir('sidekey-cli-aws-');
  let backends: Backends;
  const cli = (args: string[], stdin?: string) =>
    runCli(['secrets', ...args], { cwd: dir.path, env: backends.env, ...(stdin !== undefined ? { input: stdin } : {}) });
  before(async () => {
    backends = await startBackends();
    const { accessKeyId, secretAccessKey } = backends.kms.credentials;
    writeFileSync(
      join(dir.path, 'sidekey.yaml'),
      `aws_defaults:\n  region: ${REGION}\n  iam_keys: { aws_access_key_id: ${accessKeyId}, aws_secret_access_key: ${secretAccessKey} }\n` +
        `secrets:\n  application: cryptex\n  store: { type: dynamodb, table: ECS-Secrets-cryptex-Secrets }\n  keyring: { type: kms, key_id: ${KMS_ALIAS} }\n`,
    );
  });
  after(async () => {
    await backends.close();
    dir.remove();
  });

  test('setup creates the table and prints admin and fetch policies bound to the application', async () => {
    const setup = await cli(['setup']);
    assert.equal(setup.code, 0, setup.stderr);
    const policies = JSON.parse(setup.stdout) as {
      admin: { Statement: { Action: string[]; Condition?: unknown }[] };
      fetch: { Statement: { Action: string[]; Condition?: unknown }[] };
    };
    const fetchActions = policies.fetch.Statement.flatMap((s) => s.Action).sort();
    assert.deepEqual(fetchActions, ['dynamodb:GetItem', 'dynamodb:Query', 'kms:Decrypt']);
    assert.ok(policies.admin.Statement.some((s) => s.Action.includes('kms:GenerateDataKey')));
    assert.match(setup.stdout, /"dynamodb:LeadingKeys": \[\s*"cryptex\/\*"/);
    assert.match(setup.stdout, /"kms:EncryptionContext:app": "cryptex"/);
    assert.equal((await cli(['setup'])).code, 0, 'setup runs again safely');
  });

  test('create, fetch and revoke through DynamoDB and KMS', async () => {
    assert.equal((await cli(['setup'])).code, 0, 'the table exists whichever test ran first');
    assert.equal((await cli(['create', '--name', 'dbpassword'], 'aws-value')).code, 0);
    assert.equal((await cli(['fetch', '--name', 'dbpassword', '--raw'])).stdout, 'aws-value');
    assert.ok(backends.kms.calls.some((c) => c.operation === 'Decrypt' && c.context.name === 'dbpassword'));
    assert.equal((await cli(['revoke', '--name', 'dbpassword', '--serial', '1'])).code, 0);
    assert.match((await cli(['fetch', '--name', 'dbpassword'])).stderr, /every version of secret "dbpassword" .* is revoked/);
  });
});

describe('against a running daemon: --endpoint and --token-file', () => {
  const admin = randomToken();
  const reader = randomToken();
  let daemon: RunningDaemon;
  const cli = (args: string[], token: 'admin.token' | 'reader.token', stdin?: string) =>
    runCli(['secrets', args[0] as string, '--endpoint', daemon.url('secrets'), '--token-file', join(daemon.dir, token), ...args.slice(1)], {
      cwd: daemon.dir,
      ...(stdin !== undefined ? { input: stdin } : {}),
    });
  before(async () => {
    daemon = await startDaemon(
      `admin: { listen: 127.0.0.1:0 }\nsecrets:\n  listen: 127.0.0.1:0\n  store: { type: sqlite, path: ./data/secrets.db }\n  tokens:\n` +
        `    - { id: deployer, token: "\${fromFile:admin.token}", role: admin, application: cryptex }\n` +
        `    - { id: web, token: "\${fromFile:reader.token}", role: reader, application: cryptex }\n`,
      { files: { 'admin.token': `${admin}\n`, 'reader.token': reader } },
    );
  });
  after(() => daemon.stop());

  test('admin writes, reader fetches, each refused the other role with the reason', async () => {
    assert.equal((await cli(['create', '--name', 'dbpassword'], 'admin.token', 'over-http')).code, 0);
    assert.equal((await cli(['fetch', '--name', 'dbpassword', '--raw'], 'reader.token')).stdout, 'over-http');
    const denied = await cli(['create', '--name', 'dbpassword'], 'reader.token', 'nope');
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /token "web" has role reader; create needs role admin \(HTTP 403 SK_FORBIDDEN\)/);
    assert.match((await cli(['fetch', '--name', 'dbpassword'], 'admin.token')).stderr, /has role admin; fetch needs role reader/);
    assert.equal((await cli(['list'], 'reader.token')).stdout, 'dbpassword\n');
    const exec = await cli(
      ['exec', '--env', 'PW=dbpassword', '--', process.execPath, '-e', 'process.stdout.write(process.env.PW)'],
      'reader.token',
    );
    assert.equal(exec.stdout, 'over-http');
  });
});

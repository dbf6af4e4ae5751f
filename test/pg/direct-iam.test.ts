/**
 * Direct mode with IAM: real clients (pg, psql, pgbench) -> sidekey -> the RDS IAM peer (TLS,
 * token verified independently) -> a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import { formatListenAddress } from '../../src/core/config/listen-address.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { PG_USERS, startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { useStaticAwsKey } from '../helpers/static-aws-key.js';
import { type RdsIamPeer, startRdsIamPeer } from '../peers/rds-iam-peer.js';
import { listenerPort, pgFront } from './fixtures/listener-port.js';
import { initPgbench, runTool } from './fixtures/pg-tools.js';
import { untilRunning } from './fixtures/query-running.js';
import { createTestCa } from './fixtures/test-ca.js';

const KEY = useStaticAwsKey({ accessKeyId: 'AKIDPGPROXYTEST00001', secretAccessKey: 'pg-proxy-test-secret-key-0000000000001' });

let postgres: TestPostgres;
let peer: RdsIamPeer;
let daemon: RunningDaemon;
let peerClock = () => new Date();
let otherCaFile: string;

const front = () => pgFront(daemon);
const portOf = (target: string) => listenerPort(daemon, target);
const client = (target: string, extra: Partial<pg.ClientConfig> = {}) =>
  new pg.Client({ host: '127.0.0.1', port: portOf(target), user: 'someone', database: 'ignored', password: 'unused', ...extra });

function config(): string {
  const target = (name: string, host: string, tls: string) =>
    `    ${name}:\n      host: ${host}\n      port: ${peer.port}\n      region: us-east-1\n      database: orders\n      user: app_user\n      tls: ${tls}\n      listen: 127.0.0.1:0\n`;
  return [
    'admin: { listen: 127.0.0.1:0 }',
    'postgres:',
    '  keepalive_seconds: 1',
    '  targets:',
    target('orders', 'localhost', `{ mode: verify-full, ca_file: ${postgres.ca.caFile} }`),
    target('wrong-ca', 'localhost', `{ mode: verify-full, ca_file: ${otherCaFile} }`),
    target('wrong-name', '127.0.0.1', `{ mode: verify-full, ca_file: ${postgres.ca.caFile} }`),
    target('unchecked-name', '127.0.0.1', `{ mode: verify-ca, ca_file: ${postgres.ca.caFile} }`),
  ].join('\n');
}

before(async () => {
  postgres = await startPostgres();
  otherCaFile = createTestCa(`${postgres.dir}/other-ca`, 'some other CA').caFile;
  const cert = postgres.ca.issue('rds-peer', ['localhost']);
  peer = await startRdsIamPeer({
    postgres: { socketDir: postgres.socketDir, port: postgres.port },
    tls: cert,
    hostname: 'localhost',
    region: 'us-east-1',
    keys: new Map([[KEY.accessKeyId, KEY]]),
    now: () => peerClock(),
  });
  daemon = await startDaemon(config());
});

after(async () => {
  await daemon?.stop();
  await peer?.close();
  await postgres?.stop();
});

describe('direct mode to an IAM database', () => {
  test('the pg client logs in with a verified token and runs queries', async () => {
    const c = client('orders');
    await c.connect();
    const { rows } = await c.query('SELECT current_user AS u, current_database() AS d, 40 + 2 AS n, pg_backend_pid() AS pid');
    assert.deepEqual(rows[0], { u: 'app_user', d: 'orders', n: 42, pid: (c as unknown as { processID: number }).processID });
    await c.end();
    assert.equal(peer.logins.at(-1)?.ok, true, JSON.stringify(peer.logins.at(-1)));
  });

  test('psql logs in and runs a query', async () => {
    const result = await runTool('psql', [
      '-h',
      '127.0.0.1',
      '-p',
      String(portOf('orders')),
      '-U',
      'me',
      '-d',
      'x',
      '-Atc',
      'SELECT current_user',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'app_user');
  });

  test('pgbench select-only runs through the proxy', async () => {
    await initPgbench(postgres, 'orders', 'app_user');
    const run = await runTool('pgbench', [
      '-S',
      '-n',
      '-T',
      '2',
      '-c',
      '4',
      '-h',
      '127.0.0.1',
      '-p',
      String(portOf('orders')),
      '-U',
      'app_user',
      'orders',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /tps = \d+/);
  });

  test('a cancel from psql (Ctrl-C) stops a running pg_sleep through the proxy', async () => {
    const started = Date.now();
    const result = await runTool(
      'psql',
      ['-h', '127.0.0.1', '-p', String(portOf('orders')), '-U', 'me', '-d', 'x', '-c', 'SELECT pg_sleep(30)'],
      {},
      { interruptAfterMs: 1500 },
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /canceling statement due to user request/);
    assert.ok(Date.now() - started < 10_000, 'the query was cancelled, not waited out');
    assert.ok(peer.cancels >= 1, 'the cancel reached the database with the real key');
  });

  test('pg client.cancel stops a running pg_sleep', async () => {
    const c = client('orders');
    await c.connect();
    const started = Date.now();
    const running = c.query('SELECT pg_sleep(30)').then(
      () => assert.fail('pg_sleep was not cancelled'),
      (error: { code?: string }) => error,
    );
    await untilRunning(postgres, (c as unknown as { processID: number }).processID);
    const canceller = client('orders');
    (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(c, (c as unknown as { activeQuery: unknown }).activeQuery);
    const error = await running;
    assert.equal(error.code, '57014');
    assert.ok(Date.now() - started < 10_000);
    await c.end();
  });

  test('verify-full refuses a server whose certificate comes from another CA, with a clear error', async () => {
    const c = client('wrong-ca');
    await assert.rejects(c.connect(), (error: { code?: string; message: string; hint?: string }) => {
      assert.equal(error.code, '08001');
      assert.match(error.message, /TLS verification of the database wrong-ca .* failed/);
      assert.match(error.hint ?? '', /tls\.ca_file/);
      return true;
    });
  });

  test('verify-full refuses a certificate that does not name the host', async () => {
    const c = client('wrong-name');
    await assert.rejects(c.connect(), (error: { code?: string; message: string }) => {
      assert.equal(error.code, '08001');
      assert.match(error.message, /does not match|altnames/i);
      return true;
    });
  });

  test('the peer refuses a token signed for another host name (verify-ca lets TLS through)', async () => {
    const c = client('unchecked-name');
    await assert.rejects(c.connect(), (error: { code?: string; hint?: string }) => {
      assert.equal(error.code, '28000');
      assert.match(error.hint ?? '', /rds-db:connect/);
      return true;
    });
    assert.match(peer.logins.at(-1)?.reason ?? '', /token is for host 127\.0\.0\.1/);
  });

  test('a burst of new connections makes one signature', async () => {
    front().tokens.clear();
    const before = await daemon.daemon.metrics.render();
    const count = (text: string, outcome: string) =>
      Number(new RegExp(`sidekey_pg_token_cache_total\\{outcome="${outcome}",target="orders"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    const clients = Array.from({ length: 8 }, () => client('orders'));
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(clients.map((c) => c.end()));
    const after = await daemon.daemon.metrics.render();
    assert.equal(count(after, 'miss') - count(before, 'miss'), 1);
    const reused = count(after, 'joined') + count(after, 'hit') - count(before, 'joined') - count(before, 'hit');
    assert.equal(reused, 7);
    assert.equal(new Set(peer.tokens.slice(-8)).size, 1, 'all eight logins used one token');
  });

  test('a quiet session is not cut: no socket timeout, no timer ends it', async () => {
    const c = client('orders');
    await c.connect();
    const session = front()
      .sessions()
      .find((s) => s.state === 'relaying');
    assert.ok(session);
    assert.equal(session.sockets.client.timeout, undefined);
    assert.equal(session.sockets.upstream?.timeout, undefined);
    // Quiet for longer than the keepalive interval (1 s here), then still usable.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
    await c.end();
  });

  test('every login writes an audit line; no log line holds a token or password', async () => {
    const audits = daemon.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'pg.login');
    assert.ok(audits.some((e) => e.outcome === 'ok' && e.target === 'orders' && e.db_user === 'app_user' && e.local_user === 'someone'));
    assert.ok(audits.some((e) => e.outcome === 'upstream_unreachable' && e.target === 'wrong-ca'));
    // A token starts with the (public) host name; its secret part is the signature.
    const signatures = peer.tokens.map((t) => new URL(`https://${t}`).searchParams.get('X-Amz-Signature') as string);
    assertNoSecrets(daemon.lines, [...signatures, ...Object.values(PG_USERS), KEY.secretAccessKey]);
    for (const line of daemon.lines) assert.ok(!line.includes('X-Amz-'), `a log line holds a token: ${line.slice(0, 120)}`);
    assert.ok(peer.tokens.length > 0);
    const metrics = await daemon.daemon.metrics.render();
    assert.match(metrics, /sidekey_pg_logins_total\{outcome="ok",target="orders"\} \d+/);
  });
});

describe('the RDS IAM peer checks tokens independently', () => {
  const sign = (user: string, hostname = 'localhost', port = peer.port, key = KEY) =>
    new Signer({ hostname, port, username: user, region: 'us-east-1', credentials: key }).getAuthToken();
  const direct = (user: string, password: string) =>
    new pg.Client({
      host: 'localhost',
      port: peer.port,
      user,
      database: 'orders',
      password,
      ssl: { ca: readFileSync(postgres.ca.caFile, 'utf8') },
    });

  test('a valid token logs in; wrong user, tampered, unknown key and expired tokens are refused', async () => {
    const ok = direct('app_user', await sign('app_user'));
    await ok.connect();
    await ok.end();
    const refusals: Array<[string, string, string]> = [
      ['app_user', await sign('md5_user'), '28000'],
      ['app_user', (await sign('app_user')).replace(/X-Amz-Signature=[0-9a-f]{4}/, 'X-Amz-Signature=0000'), '28P01'],
      [
        'app_user',
        await sign('app_user', 'localhost', peer.port, { accessKeyId: 'AKIDUNKNOWN000000001', secretAccessKey: 'x'.repeat(40) }),
        '28P01',
      ],
      ['app_user', await sign('app_user', 'other-host'), '28000'],
    ];
    for (const [user, token, code] of refusals) {
      const c = direct(user, token);
      await assert.rejects(c.connect(), (error: { code?: string }) => error.code === code);
    }
    const token = await sign('app_user');
    peerClock = () => new Date(Date.now() + 16 * 60 * 1000);
    try {
      await assert.rejects(direct('app_user', token).connect(), (error: { code?: string }) => error.code === '28P01');
    } finally {
      peerClock = () => new Date();
    }
  });
});

describe('shutdown', () => {
  test('sessions still open when the drain time is over get 57P01', async () => {
    const local = await startDaemon(config());
    const address = pgFront(local).listenerAddress('orders');
    assert.ok(address);
    const c = new pg.Client({ connectionString: `postgres://me@${formatListenAddress(address)}/x` });
    await c.connect();
    const ended = new Promise<{ code?: string }>((resolve) => c.on('error', (error) => resolve(error as { code?: string })));
    await local.stop();
    const error = await ended;
    assert.equal(error.code, '57P01');
  });
});

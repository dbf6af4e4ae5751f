/**
 * Plain PostgreSQL upstream (SCRAM-SHA-256, MD5, cleartext over TLS), local SCRAM + TLS to the
 * listener, and client proxy -> server proxy -> RDS IAM peer, against one real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { PG_USERS, startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { runCli } from '../helpers/run-cli.js';
import { useStaticAwsKey } from '../helpers/static-aws-key.js';
import { type RdsIamPeer, startRdsIamPeer } from '../peers/rds-iam-peer.js';
import { verifyPresignedUrl } from '../peers/sigv4-verifier.js';
import { listenerPort } from './fixtures/listener-port.js';
import { initPgbench, runTool } from './fixtures/pg-tools.js';

const KEY = useStaticAwsKey({ accessKeyId: 'AKIDPGSERVERMODE0001', secretAccessKey: 'pg-server-mode-secret-key-00000000000001' });

const LOCAL_PASSWORD = 'local-listener-password-0004';

let postgres: TestPostgres;
let peer: RdsIamPeer;
let direct: RunningDaemon;
let server: RunningDaemon;
let clientProxy: RunningDaemon;

const portOf = listenerPort;

before(async () => {
  postgres = await startPostgres();
  const ca = postgres.ca.caFile;
  const local = postgres.ca.issue('local-listener', ['localhost', '127.0.0.1']);
  const serverCert = postgres.ca.issue('server-proxy', ['localhost']);
  peer = await startRdsIamPeer({
    postgres: { socketDir: postgres.socketDir, port: postgres.port },
    tls: postgres.ca.issue('rds-peer-2', ['localhost']),
    hostname: 'localhost',
    region: 'us-east-1',
    keys: new Map([[KEY.accessKeyId, KEY]]),
  });
  const plain = (name: string, user: string, password: string, extra = '') =>
    `    ${name}:\n      host: localhost\n      port: ${postgres.port}\n      database: orders\n      user: ${user}\n      auth: { password: "${password}" }\n      tls: { mode: verify-full, ca_file: ${ca} }\n      listen: 127.0.0.1:0\n${extra}`;
  direct = await startDaemon(
    [
      'admin: { listen: 127.0.0.1:0 }',
      'postgres:',
      '  targets:',
      plain('scram', 'app_user', PG_USERS.app_user),
      plain('md5', 'md5_user', PG_USERS.md5_user),
      plain('cleartext', 'clear_user', PG_USERS.clear_user),
      plain('bad-password', 'app_user', 'not-the-password'),
      plain(
        'guarded',
        'app_user',
        PG_USERS.app_user,
        `      client_auth: { password: "${LOCAL_PASSWORD}" }\n      client_tls: { cert_file: ${local.certFile}, key_file: ${local.keyFile} }\n      max_connections: 2\n`,
      ),
    ].join('\n'),
  );
  server = await startDaemon(
    [
      'admin: { listen: 127.0.0.1:0 }',
      'postgres:',
      '  targets:',
      `    orders:\n      host: localhost\n      port: ${peer.port}\n      region: us-east-1\n      user: app_user\n      tls: { mode: verify-full, ca_file: ${ca} }`,
      `    hidden:\n      host: localhost\n      port: ${peer.port}\n      region: us-east-1\n      user: app_user\n      tls: { mode: verify-full, ca_file: ${ca} }`,
      '  server:',
      '    listen: 127.0.0.1:0',
      `    tls: { cert_file: ${serverCert.certFile}, key_file: ${serverCert.keyFile} }`,
      '    allow: [orders]',
    ].join('\n'),
  );
  const via = `localhost:${portOf(server, 'server')}`;
  const viaTarget = (name: string) =>
    `    ${name}:\n      host: localhost\n      port: ${peer.port}\n      region: us-east-1\n      database: orders\n      user: app_user\n      listen: 127.0.0.1:0\n      via: ${via}\n      via_tls: { mode: verify-full, ca_file: ${ca} }`;
  clientProxy = await startDaemon(
    ['admin: { listen: 127.0.0.1:0 }', 'postgres:', '  targets:', viaTarget('orders'), viaTarget('hidden')].join('\n'),
  );
});

after(async () => {
  await clientProxy?.stop();
  await server?.stop();
  await direct?.stop();
  await peer?.close();
  await postgres?.stop();
});

async function whoami(port: number, extra: Partial<pg.ClientConfig> = {}): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'dev', database: 'x', ...extra });
  await c.connect();
  try {
    return (await c.query('SELECT current_user AS u')).rows[0].u as string;
  } finally {
    await c.end();
  }
}

describe('plain PostgreSQL upstream', () => {
  test('SCRAM-SHA-256, MD5 and cleartext-over-TLS logins all work', async () => {
    assert.equal(await whoami(portOf(direct, 'scram')), 'app_user');
    assert.equal(await whoami(portOf(direct, 'md5')), 'md5_user');
    assert.equal(await whoami(portOf(direct, 'cleartext')), 'clear_user');
  });

  test('a wrong upstream password is refused with 28P01 and a hint naming the key', async () => {
    await assert.rejects(whoami(portOf(direct, 'bad-password')), (error: { code?: string; hint?: string }) => {
      assert.equal(error.code, '28P01');
      assert.match(error.hint ?? '', /postgres\.targets\.bad-password auth\.password/);
      return true;
    });
  });

  test('a listener with client_auth asks local clients for SCRAM over TLS', async () => {
    const ssl = { ca: readFileSync(postgres.ca.caFile, 'utf8'), servername: 'localhost' };
    assert.equal(await whoami(portOf(direct, 'guarded'), { password: LOCAL_PASSWORD, ssl }), 'app_user');
    await assert.rejects(
      whoami(portOf(direct, 'guarded'), { password: 'wrong-password', ssl }),
      (error: { code?: string }) => error.code === '28P01',
    );
    const psql = await runTool(
      'psql',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(portOf(direct, 'guarded')),
        '-U',
        'dev',
        '-d',
        'x',
        '-Atc',
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ],
      {
        PGPASSWORD: LOCAL_PASSWORD,
        PGSSLMODE: 'verify-ca',
        PGSSLROOTCERT: postgres.ca.caFile,
      },
    );
    assert.equal(psql.code, 0, psql.stderr);
  });

  test('the connection limit refuses the next client with 53300', async () => {
    const ssl = { ca: readFileSync(postgres.ca.caFile, 'utf8'), servername: 'localhost' };
    const open = [0, 1].map(
      () => new pg.Client({ host: '127.0.0.1', port: portOf(direct, 'guarded'), user: 'dev', password: LOCAL_PASSWORD, ssl }),
    );
    await Promise.all(open.map((c) => c.connect()));
    await assert.rejects(
      whoami(portOf(direct, 'guarded'), { password: LOCAL_PASSWORD, ssl }),
      (error: { code?: string; message: string }) => {
        assert.equal(error.code, '53300');
        assert.match(error.message, /too many connections for target "guarded"/);
        return true;
      },
    );
    await Promise.all(open.map((c) => c.end()));
  });
});

describe('client proxy -> server proxy -> IAM database', () => {
  test('pg logs in through both proxies with the client-side token', async () => {
    assert.equal(await whoami(portOf(clientProxy, 'orders')), 'app_user');
    assert.equal(peer.logins.at(-1)?.ok, true);
  });

  test("through both proxies the client's pid is the database backend's", async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: portOf(clientProxy, 'orders'), user: 'dev', database: 'x' });
    await c.connect();
    try {
      const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      assert.equal((c as unknown as { processID: number }).processID, pid);
    } finally {
      await c.end();
    }
  });

  test('psql and pgbench work through both proxies', async () => {
    const port = String(portOf(clientProxy, 'orders'));
    const psql = await runTool('psql', ['-h', '127.0.0.1', '-p', port, '-U', 'dev', '-d', 'x', '-Atc', 'SELECT current_database()']);
    assert.equal(psql.code, 0, psql.stderr);
    assert.equal(psql.stdout.trim(), 'orders');
    await initPgbench(postgres, 'orders', 'app_user');
    const bench = await runTool('pgbench', ['-n', '-S', '-T', '2', '-c', '2', '-h', '127.0.0.1', '-p', port, '-U', 'dev', 'x']);
    assert.equal(bench.code, 0, bench.stderr);
    assert.match(bench.stdout, /tps = \d+/);
  });

  test('a cancel goes client proxy -> server proxy -> database', async () => {
    const result = await runTool(
      'psql',
      ['-h', '127.0.0.1', '-p', String(portOf(clientProxy, 'orders')), '-U', 'dev', '-d', 'x', '-c', 'SELECT pg_sleep(30)'],
      {},
      { interruptAfterMs: 1500 },
    );
    assert.match(result.stderr, /canceling statement due to user request/);
    assert.ok(peer.cancels >= 1);
  });

  test('the server proxy routes only to its allow-list', async () => {
    await assert.rejects(whoami(portOf(clientProxy, 'hidden')), (error: { code?: string; message: string; hint?: string }) => {
      assert.equal(error.code, '28000');
      assert.match(error.message, /target "hidden" is not allowed on this server proxy/);
      assert.match(error.hint ?? '', /postgres\.server\.allow/);
      return true;
    });
  });

  test('the server proxy refuses plain TCP and clients that are not client proxies', async () => {
    const port = portOf(server, 'server');
    await assert.rejects(
      whoami(port, { ssl: false }),
      (error: { code?: string; message: string }) => error.code === '28000' && /TLS connections only/.test(error.message),
    );
    const ssl = { ca: readFileSync(postgres.ca.caFile, 'utf8'), servername: 'localhost' };
    await assert.rejects(
      whoami(port, { ssl }),
      (error: { code?: string; message: string }) => error.code === '28000' && /sidekey_target/.test(error.message),
    );
  });

  test('no log line of either proxy holds a token or password', () => {
    const signatures = peer.tokens.map((t) => new URL(`https://${t}`).searchParams.get('X-Amz-Signature') as string);
    for (const d of [direct, server, clientProxy]) {
      assertNoSecrets(d.lines, [...signatures, ...Object.values(PG_USERS), LOCAL_PASSWORD, KEY.secretAccessKey]);
      for (const line of d.lines) assert.ok(!line.includes('X-Amz-'), line.slice(0, 120));
    }
  });
});

describe('sidekey pg', () => {
  test('pg token prints a token the independent verifier accepts; pg --help names the CA bundle', async () => {
    const token = await runCli(['pg', 'token', '--target', 'orders', '--config', clientProxy.configFile]);
    assert.equal(token.code, 0, token.stderr);
    const verdict = verifyPresignedUrl(token.stdout.trim(), {
      keys: new Map([[KEY.accessKeyId, KEY]]),
      service: 'rds-db',
      region: 'us-east-1',
    });
    assert.equal(verdict.ok, true, JSON.stringify(verdict));
    assert.equal(verdict.params?.get('DBUser'), 'app_user');
    const help = await runCli(['pg', '--help']);
    assert.match(help.stdout, /truststore\.pki\.rds\.amazonaws\.com\/global\/global-bundle\.pem/);
    const wrong = await runCli(['pg', 'token', '--target', 'nope', '--config', clientProxy.configFile]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /no target named "nope".*have: orders, hidden/);
  });

  test('pg connect runs psql through an ephemeral listener', async () => {
    const result = await runCli(['pg', 'connect', '--target', 'scram', '--config', direct.configFile, '--', '-Atc', 'SELECT current_user']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'app_user');
  });
});

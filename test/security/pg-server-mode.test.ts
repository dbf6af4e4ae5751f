/**
 * Attacks on the Postgres proxy against a real PostgreSQL:
 * - server mode logged anyone in (no client authentication, the target's stored password
 *   lent upstream, the client's database taking over the target's);
 * - the `users` allow-list answered `constructor`, `toString` and `__proto__`;
 * - `sidekey pg connect`'s ephemeral listener was a loopback port any local user could
 *   reach while psql ran (another user got the operator's session);
 * - a client listener with client_tls never required TLS (settled here either way).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { Signer } from '@aws-sdk/rds-signer';
import pg from 'pg';
import { iamTokenProblem } from '../../src/pg-proxy/server-policy.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { PG_USERS, startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { runCli } from '../helpers/run-cli.js';
import { useStaticAwsKey } from '../helpers/static-aws-key.js';
import { type RdsIamPeer, startRdsIamPeer } from '../peers/rds-iam-peer.js';
import { listenerPort } from '../pg/fixtures/listener-port.js';
import { startupPacket } from '../pg/fixtures/startup-packet.js';

const KEY = useStaticAwsKey({ accessKeyId: 'AKIDPGSECURITY000001', secretAccessKey: 'pg-security-secret-key-000000000000001' });

const SERVER_PASSWORD = 'server-proxy-client-password-0005';
let postgres: TestPostgres;
let peer: RdsIamPeer;
let server: RunningDaemon;
let client: RunningDaemon;
let clientAnyDb: RunningDaemon;
let ca: string;

const portOf = listenerPort;

function serverYaml(pwExtra: string): string {
  const serverCert = postgres.ca.issue('server-proxy-sec', ['localhost']);
  return [
    'admin: { listen: 127.0.0.1:0 }',
    'postgres:',
    '  targets:',
    `    pw:\n      host: localhost\n      port: ${postgres.port}\n      database: orders\n      user: app_user\n      auth: { password: "${PG_USERS.app_user}" }\n      tls: { mode: verify-full, ca_file: ${ca} }\n${pwExtra}`,
    `    iam:\n      host: localhost\n      port: ${peer.port}\n      region: us-east-1\n      database: orders\n      user: app_user\n      tls: { mode: verify-full, ca_file: ${ca} }`,
    '  server:',
    '    listen: 127.0.0.1:0',
    `    tls: { cert_file: ${serverCert.certFile}, key_file: ${serverCert.keyFile} }`,
    '    allow: [pw, iam]',
  ].join('\n');
}

before(async () => {
  postgres = await startPostgres();
  ca = postgres.ca.caFile;
  peer = await startRdsIamPeer({
    postgres: { socketDir: postgres.socketDir, port: postgres.port },
    tls: postgres.ca.issue('rds-peer-sec', ['localhost']),
    hostname: 'localhost',
    region: 'us-east-1',
    keys: new Map([[KEY.accessKeyId, KEY]]),
  });
  server = await startDaemon(serverYaml(`      client_auth: { password: "${SERVER_PASSWORD}" }\n`));
  const via = `localhost:${portOf(server, 'server')}`;
  const listenerCert = postgres.ca.issue('remote-listener', ['localhost', '127.0.0.1']);
  const viaTarget = (name: string, auth: string, database = '      database: orders\n') =>
    `    ${name}:\n      host: localhost\n      port: ${name.startsWith('iam') ? peer.port : postgres.port}\n      region: us-east-1\n${database}      user: app_user\n      listen: 127.0.0.1:0\n      via: ${via}\n      via_tls: { mode: verify-full, ca_file: ${ca} }\n${auth}`;
  client = await startDaemon(
    [
      'admin: { listen: 127.0.0.1:0 }',
      'postgres:',
      '  targets:',
      viaTarget('pw', `      auth: { password: "${SERVER_PASSWORD}" }\n`),
      viaTarget('iam', ''),
      `    remote:\n      host: localhost\n      port: ${postgres.port}\n      database: orders\n      user: app_user\n      auth: { password: "${PG_USERS.app_user}" }\n      tls: { mode: verify-full, ca_file: ${ca} }\n      listen: 0.0.0.0:0\n      client_auth: { password: "${SERVER_PASSWORD}" }\n      client_tls: { cert_file: ${listenerCert.certFile}, key_file: ${listenerCert.keyFile} }`,
      `    guarded:\n      host: localhost\n      port: ${postgres.port}\n      database: orders\n      user: app_user\n      auth: { password: "${PG_USERS.app_user}" }\n      tls: { mode: verify-full, ca_file: ${ca} }\n      listen: 127.0.0.1:0\n      users: { alice: app_user }`,
    ].join('\n'),
  );
  // No database of its own: the local client's choice travels to the server proxy.
  clientAnyDb = await startDaemon(['admin: { listen: 127.0.0.1:0 }', 'postgres:', '  targets:', viaTarget('iam', '', '')].join('\n'));
});

after(async () => {
  await clientAnyDb?.stop();
  await client?.stop();
  await server?.stop();
  await peer?.close();
  await postgres?.stop();
});

/** One session with a raw StartupMessage over TLS to the server listener; resolves with what came back before it closed. */
function rawServerSession(params: Record<string, string>, waitMs = 1500): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(portOf(server, 'server'), '127.0.0.1');
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(request));
    socket.once('data', (answer) => {
      if (answer[0] !== 0x53) return reject(new Error('the server proxy did not accept TLS'));
      const tls = tlsConnect({ socket, ca: readFileSync(ca), servername: 'localhost' });
      const chunks: Buffer[] = [];
      const done = () => {
        clearTimeout(timer);
        tls.destroy();
        resolve(Buffer.concat(chunks));
      };
      const timer = setTimeout(done, waitMs);
      tls.on('data', (c: Buffer) => chunks.push(c));
      tls.on('close', done);
      tls.on('error', () => {});
      tls.once('secureConnect', () => tls.write(startupPacket(params)));
    });
  });
}

/** 'R' with code 0: the proxy said the client is logged in. */
const authenticationOk = (reply: Buffer) => reply.length >= 9 && reply[0] === 0x52 && reply.readInt32BE(5) === 0;
const errorText = (reply: Buffer) => reply.subarray(reply.indexOf(0x45)).toString('latin1');

async function query(port: number, sql: string, extra: Partial<pg.ClientConfig> = {}): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'dev', database: 'orders', ...extra });
  await c.connect();
  try {
    return String(Object.values((await c.query(sql)).rows[0])[0]);
  } finally {
    await c.end();
  }
}

test('a password target on the server proxy without client_auth is a config error', async () => {
  await assert.rejects(
    startDaemon(serverYaml('')),
    /postgres\.server\.allow\[0\]: target "pw" logs in with a stored password: set postgres\.targets\.pw\.client_auth/,
  );
});

test('a client that proves nothing is never logged in with the stored password', async () => {
  for (const database of ['orders', 'postgres']) {
    const reply = await rawServerSession({ user: 'app_user', database, sidekey_target: 'pw' });
    assert.equal(authenticationOk(reply), false, `logged in without authenticating (database ${database})`);
    // It is asked for SCRAM (AuthenticationSASL, code 10), or refused.
    assert.ok(reply[0] === 0x52 ? reply.readInt32BE(5) === 10 : reply[0] === 0x45, reply.toString('latin1'));
  }
});

test('a client proxy that knows the client_auth password gets in, in the target database only', async () => {
  assert.equal(await query(portOf(client, 'pw'), 'SELECT current_database()'), 'orders');
  assert.equal(await query(portOf(client, 'pw'), 'SELECT current_user'), 'app_user');
});

test("the server proxy pins the target's database: another one is refused", async () => {
  assert.equal(await query(portOf(clientAnyDb, 'iam'), 'SELECT current_database()', { database: 'orders' }), 'orders');
  await assert.rejects(
    query(portOf(clientAnyDb, 'iam'), 'SELECT 1', { database: 'postgres' }),
    (error: { code?: string; message: string }) => {
      assert.equal(error.code, '28000');
      assert.match(error.message, /database "postgres" is not allowed for target "iam" on this server proxy \(its database is orders\)/);
      return true;
    },
  );
});

test('an IAM token signed for another DB user, or another host, is refused before the database', async () => {
  const signer = (username: string, hostname = 'localhost', port = peer.port) =>
    new Signer({ hostname, port, username, region: 'us-east-1', credentials: KEY }).getAuthToken();
  const other = await rawServerSession({
    user: 'app_user',
    database: 'orders',
    sidekey_target: 'iam',
    sidekey_token: await signer('postgres'),
  });
  assert.equal(authenticationOk(other), false);
  assert.match(errorText(other), /signed for another DB user than "app_user"/);
  const host = await rawServerSession({
    user: 'app_user',
    database: 'orders',
    sidekey_target: 'iam',
    sidekey_token: await signer('app_user', 'evil.example', 5432),
  });
  assert.match(errorText(host), /signed for another host/);
  const expired = (await signer('app_user')).replace(/X-Amz-Date=\d{8}T\d{6}Z/, 'X-Amz-Date=20200101T000000Z');
  assert.equal(iamTokenProblem(expired, 'localhost', peer.port, 'app_user'), 'it has expired');
  assert.equal(await query(portOf(client, 'iam'), 'SELECT current_user'), 'app_user', 'a right token still works');
});

test('the users allow-list answers only its own names, not constructor, toString or __proto__', async () => {
  assert.equal(await query(portOf(client, 'guarded'), 'SELECT current_user', { user: 'alice' }), 'app_user');
  for (const user of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    await assert.rejects(query(portOf(client, 'guarded'), 'SELECT 1', { user }), (error: { code?: string; message: string }) => {
      assert.equal(error.code, '28000', `${user}: ${error.message}`);
      assert.match(error.message, new RegExp(`local user "${user.replace(/_/g, '_')}" may not use target "guarded"`));
      return true;
    });
  }
});

test('a client listener beyond loopback with client_tls takes TLS only; on loopback TLS stays optional', async () => {
  await assert.rejects(
    query(portOf(client, 'remote'), 'SELECT 1', { password: SERVER_PASSWORD, ssl: false }),
    (error: { code?: string; message: string }) => error.code === '28000' && /TLS connections only/.test(error.message),
  );
  const ssl = { ca: readFileSync(ca, 'utf8'), servername: 'localhost' };
  assert.equal(await query(portOf(client, 'remote'), 'SELECT current_user', { password: SERVER_PASSWORD, ssl }), 'app_user');
});

test("pg connect's listener is a unix socket in a 0700 directory that other users cannot reach", async () => {
  const asNobody =
    process.getuid?.() === 0 ? 'runuser -u nobody -- psql -w -Atc "SELECT 1" 2>&1 || echo NOBODY-REFUSED' : 'echo NOBODY-REFUSED';
  const result = await runCli([
    'pg',
    'connect',
    '--target',
    'remote',
    '--config',
    client.configFile,
    '--',
    '-At',
    '-c',
    'SELECT current_user',
    '-c',
    `\\! stat -c 'mode=%a owner=%u' "$PGHOST"; ls -A "$PGHOST"; ${asNobody}`,
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^app_user$/m);
  assert.match(result.stdout, new RegExp(`^mode=700 owner=${process.getuid?.() ?? 0}$`, 'm'));
  assert.match(result.stdout, /^\.s\.PGSQL\.5432$/m);
  assert.match(result.stdout, /NOBODY-REFUSED/);
  assert.doesNotMatch(result.stdout, /^1$/m, 'another user ran a query through the listener');
});

test('no log line of either proxy holds a password or token signature', () => {
  const signatures = peer.tokens.map((t) => new URL(`https://${t}`).searchParams.get('X-Amz-Signature') as string);
  for (const d of [client, server])
    assertNoSecrets(d.lines, [...signatures, ...Object.values(PG_USERS), SERVER_PASSWORD, KEY.secretAccessKey]);
});

/**
 * Clients see their backend's real process id through the proxy (unpooled and session-pooled
 * targets, a real PostgreSQL): the driver's pid is `pg_backend_pid()`, their own NOTIFYs carry it,
 * and a cancel key is (that pid, a secret minted per client session), so a key given to an earlier
 * client of a pooled backend cancels nothing. Driven with `pg` and with psycopg2 (Debian's
 * python3-psycopg2), as applications use them.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { PG_USERS, startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { waitFor } from '../helpers/wait-for.js';
import { listenerPort, pgFront } from './fixtures/listener-port.js';
import { untilRunning } from './fixtures/query-running.js';

let postgres: TestPostgres;
let daemon: RunningDaemon;

const front = () => pgFront(daemon);
const portOf = (target: string) => listenerPort(daemon, target);
const client = (target: string) => new pg.Client({ host: '127.0.0.1', port: portOf(target), user: 'me', database: 'ignored' });
/** The BackendKeyData a pg client was given. */
const keyOf = (c: pg.Client) => c as unknown as { processID: number; secretKey: number };

const idle = (target: string) => new Map(front().pool.idleCounts()).get(target) ?? 0;

/** A CancelRequest as a driver sends it, on a connection of its own. */
function sendCancel(port: number, pid: number, secret: number): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(pid, 8);
  packet.writeInt32BE(secret | 0, 12);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(packet));
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
}

/** Debian's interpreter, which python3-psycopg2 installs into (another python3 may come first on PATH). */
const PYTHON = '/usr/bin/python3';
const psycopg2 = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import psycopg2'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

before(async () => {
  postgres = await startPostgres();
  const targets = { pooled: '{ max_idle: 2, idle_seconds: 60 }', unpooled: '{ max_idle: 0 }' };
  const lines = ['admin: { listen: 127.0.0.1:0 }', 'postgres:', '  targets:'];
  for (const [name, pool] of Object.entries(targets))
    lines.push(
      `    ${name}:`,
      '      host: localhost',
      `      port: ${postgres.port}`,
      '      database: orders',
      '      user: app_user',
      `      auth: { password: "${PG_USERS.app_user}" }`,
      `      tls: { mode: verify-full, ca_file: ${postgres.ca.caFile} }`,
      '      listen: 127.0.0.1:0',
      `      pool: ${pool}`,
    );
  daemon = await startDaemon(lines.join('\n'));
});

after(async () => {
  await daemon?.stop();
  await postgres?.stop();
});

for (const target of ['unpooled', 'pooled']) {
  describe(`${target} target`, () => {
    test("the driver's pid is pg_backend_pid(), and the client's own NOTIFY carries it", async () => {
      const c = client(target);
      await c.connect();
      try {
        const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        assert.equal(keyOf(c).processID, pid);
        const seen = (await c.query('SELECT pid FROM pg_stat_activity WHERE pid = pg_backend_pid()')).rows;
        assert.deepEqual(seen, [{ pid }], 'pg_stat_activity joins on it');
        const notified = new Promise<pg.Notification>((resolve) => c.once('notification', resolve));
        await c.query('LISTEN sidekey_pid');
        await c.query("NOTIFY sidekey_pid, 'hello'");
        const notification = await notified;
        assert.equal(notification.processId, keyOf(c).processID, 'its own notification is recognisable');
        assert.equal(notification.payload, 'hello');
      } finally {
        await c.end();
      }
    });

    test('psycopg2: conn.info.backend_pid and a notification from the same connection', {
      skip: !psycopg2 && 'python3-psycopg2 is not installed',
    }, async () => {
      const script = [
        'import json, sys, psycopg2',
        `conn = psycopg2.connect(host="127.0.0.1", port=${portOf(target)}, user="me", dbname="ignored", sslmode="disable")`,
        'conn.autocommit = True',
        'cur = conn.cursor()',
        'cur.execute("SELECT pg_backend_pid()")',
        'server_pid = cur.fetchone()[0]',
        'cur.execute("LISTEN sidekey_psycopg2")',
        'cur.execute("NOTIFY sidekey_psycopg2, \'payload\'")',
        'conn.poll()',
        'n = conn.notifies.pop(0)',
        'print(json.dumps({"backend_pid": conn.info.backend_pid, "get_backend_pid": conn.get_backend_pid(), "server_pid": server_pid, "notify_pid": n.pid, "payload": n.payload}))',
      ].join('\n');
      const out = await new Promise<string>((resolve, reject) =>
        execFile(PYTHON, ['-c', script], (error, stdout, stderr) => (error ? reject(new Error(stderr || String(error))) : resolve(stdout))),
      );
      const r = JSON.parse(out) as Record<string, unknown>;
      assert.equal(r.backend_pid, r.server_pid, out);
      assert.equal(r.get_backend_pid, r.server_pid, out);
      assert.equal(r.notify_pid, r.server_pid, out);
      assert.equal(r.payload, 'payload');
    });
  });
}

test("a pooled backend's next client keeps its pid, gets a new secret, and the earlier client's key cancels nothing", async () => {
  const first = client('pooled');
  await first.connect();
  const firstKey = { ...keyOf(first) };
  await first.end();
  await waitFor(() => idle('pooled') >= 1, 'the connection to be parked again');

  const second = client('pooled');
  await second.connect();
  try {
    const secondKey = keyOf(second);
    assert.equal(secondKey.processID, firstKey.processID, 'the same backend, so the same pid');
    assert.notEqual(secondKey.secretKey, firstKey.secretKey, 'a secret of its own');
    const started = Date.now();
    const sleeping = second.query('SELECT pg_sleep(1.5) AS done');
    await untilRunning(postgres, secondKey.processID);
    await sendCancel(portOf('pooled'), firstKey.processID, firstKey.secretKey);
    await sendCancel(portOf('pooled'), secondKey.processID, secondKey.secretKey ^ 1);
    const result = await sleeping;
    assert.equal(result.rowCount, 1, "the earlier client's key and a wrong secret did not cancel the query");
    assert.ok(Date.now() - started >= 1400);

    const cancelled = second.query('SELECT pg_sleep(30)').then(
      () => assert.fail('pg_sleep was not cancelled'),
      (error: { code?: string }) => error.code,
    );
    await untilRunning(postgres, secondKey.processID);
    await sendCancel(portOf('pooled'), secondKey.processID, secondKey.secretKey);
    assert.equal(await cancelled, '57014', 'its own key cancels');
  } finally {
    await second.end();
  }
});

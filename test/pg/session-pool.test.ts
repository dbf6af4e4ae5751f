/**
 * Session pooling of upstream connections (client mode, password targets over verified TLS to a
 * real PostgreSQL), and reloads that change a target while a session is open.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { freePort, PG_USERS, startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { waitFor, waitForAsync } from '../helpers/wait-for.js';
import { listenerPort, pgFront } from './fixtures/listener-port.js';
import { untilRunning } from './fixtures/query-running.js';
import { startupPacket } from './fixtures/startup-packet.js';

let postgres: TestPostgres;
let daemon: RunningDaemon;

const front = () => pgFront(daemon);
const portOf = (target: string) => listenerPort(daemon, target);
const client = (target: string, extra: Partial<pg.ClientConfig> = {}) =>
  new pg.Client({ host: '127.0.0.1', port: portOf(target), user: 'me', database: 'ignored', ...extra });

interface TargetSpec {
  user?: string;
  password?: string;
  pool?: string;
  listen?: string;
}

function config(targets: Record<string, TargetSpec>): string {
  const lines = ['admin: { listen: 127.0.0.1:0 }', 'postgres:', '  targets:'];
  for (const [name, t] of Object.entries(targets)) {
    lines.push(
      `    ${name}:`,
      '      host: localhost',
      `      port: ${postgres.port}`,
      '      database: orders',
      `      user: ${t.user ?? 'app_user'}`,
      `      auth: { password: "${t.password ?? PG_USERS.app_user}" }`,
      `      tls: { mode: verify-full, ca_file: ${postgres.ca.caFile} }`,
      `      listen: ${t.listen ?? '127.0.0.1:0'}`,
    );
    if (t.pool) lines.push(`      pool: ${t.pool}`);
  }
  return lines.join('\n');
}

const TARGETS: Record<string, TargetSpec> = {
  pooled: { pool: '{ max_idle: 2, idle_seconds: 60 }' },
  short: { pool: '{ max_idle: 2, idle_seconds: 1 }' },
  unpooled: { pool: '{ max_idle: 0 }' },
};

/** Connects, runs `work`, ends cleanly; returns the backend pid the session had. */
async function session(
  target: string,
  work: (c: pg.Client) => Promise<void> = async () => {},
  extra: Partial<pg.ClientConfig> = {},
): Promise<number> {
  const c = client(target, extra);
  await c.connect();
  try {
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await work(c);
    return pid;
  } finally {
    await c.end();
  }
}

/** A typed frontend message. */
function frontendMessage(type: string, body = ''): Buffer {
  const payload = Buffer.from(body);
  const out = Buffer.alloc(5 + payload.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}

const idle = (target: string) => new Map(front().pool.idleCounts()).get(target) ?? 0;

async function metric(name: string, labels: string): Promise<number> {
  const text = await daemon.daemon.metrics.render();
  const escaped = labels.replace(/[{}]/g, '\\$&');
  return Number(new RegExp(`^${name}${escaped} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

before(async () => {
  postgres = await startPostgres();
  await postgres.query('GRANT CREATE, TEMP ON DATABASE orders TO app_user');
  daemon = await startDaemon(config(TARGETS));
});

after(async () => {
  await daemon?.stop();
  await postgres?.stop();
});

describe('session pooling', () => {
  test('a second client reuses the upstream connection of the first (same backend pid, a pool hit)', async () => {
    const hits = await metric('sidekey_pg_pool_checkouts_total', '{outcome="hit",target="pooled"}');
    const first = await session('pooled');
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    const second = await session('pooled');
    assert.equal(second, first);
    assert.equal(await metric('sidekey_pg_pool_checkouts_total', '{outcome="hit",target="pooled"}'), hits + 1);
    assert.ok((await metric('sidekey_pg_pool_returns_total', '{outcome="parked",target="pooled"}')) >= 1);
    const audits = daemon.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.audit === 'pg.login' && e.target === 'pooled');
    assert.deepEqual(
      audits.slice(-2).map((e) => e.upstream),
      ['new', 'pooled'],
    );
  });

  test('many reuses of one connection do not pile up listeners on its socket', async () => {
    for (let i = 0; i < 12; i++) {
      await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
      await session('pooled');
    }
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    const c = client('pooled');
    await c.connect();
    const upstream = front()
      .sessions()
      .find((s) => s.state === 'relaying' && s.target === 'pooled')?.sockets.upstream;
    assert.ok(upstream);
    for (const event of ['close', 'end', 'data', 'error'])
      assert.ok(upstream.listenerCount(event) <= 3, `${event}: ${upstream.listenerCount(event)} listeners`);
    await c.end();
  });

  test('session state does not leak: SET (and its reported value), temp tables and prepared statements are reset', async () => {
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    const first = await session('pooled', async (c) => {
      await c.query("SET work_mem = '7MB'");
      await c.query("SET application_name = 'leaky'");
      await c.query('CREATE TEMP TABLE leak (x int)');
      await c.query('PREPARE leaked AS SELECT 1');
    });
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    // The greeting the proxy makes up for a reused connection reports the reset value, not 'leaky'.
    const reported = new Map<string, string>();
    const c = client('pooled');
    (
      c as unknown as { connection: { on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void } }
    ).connection.on('parameterStatus', (m) => reported.set(m.parameterName, m.parameterValue));
    await c.connect();
    assert.equal(reported.get('application_name'), '');
    assert.ok(reported.has('server_version') && reported.has('client_encoding'), 'the recorded ParameterStatus set is sent');
    await c.end();
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    await session('pooled', async (c) => {
      assert.equal((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, first, 'the same backend');
      assert.equal((await c.query('SHOW work_mem')).rows[0].work_mem, '4MB');
      assert.equal((await c.query('SHOW application_name')).rows[0].application_name, '');
      assert.equal((await c.query("SELECT to_regclass('pg_temp.leak') AS t")).rows[0].t, null);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0].n, 0);
    });
  });

  test('a connection ended mid-transaction or after an error is closed, not pooled', async () => {
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    const notClean = await metric('sidekey_pg_pool_returns_total', '{outcome="not_clean",target="pooled"}');
    const inTransaction = await session('pooled', async (c) => {
      await c.query('BEGIN');
      await c.query('CREATE TEMP TABLE half (x int)');
    });
    assert.equal(idle('pooled'), 0);
    const afterError = await session('pooled', async (c) => {
      await assert.rejects(c.query('SELECT 1/0'));
    });
    assert.notEqual(afterError, inTransaction);
    await waitForAsync(
      async () => (await metric('sidekey_pg_pool_returns_total', '{outcome="not_clean",target="pooled"}')) >= notClean + 2,
      'both returns',
    );
    assert.equal(idle('pooled'), 0, 'neither connection was parked');
    const next = await session('pooled');
    assert.ok(next !== inTransaction && next !== afterError);
  });

  test('cancel works on a reused connection (the minted key maps to the parked backend)', async () => {
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    const hits = await metric('sidekey_pg_pool_checkouts_total', '{outcome="hit",target="pooled"}');
    const c = client('pooled');
    await c.connect();
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    assert.equal(await metric('sidekey_pg_pool_checkouts_total', '{outcome="hit",target="pooled"}'), hits + 1, 'a reused connection');
    const running = c.query('SELECT pg_sleep(30)').then(
      () => assert.fail('pg_sleep was not cancelled'),
      (error: { code?: string }) => error,
    );
    await untilRunning(postgres, pid);
    const canceller = client('pooled');
    (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(c, (c as unknown as { activeQuery: unknown }).activeQuery);
    const started = Date.now();
    const error = await running;
    assert.equal(error.code, '57014');
    assert.ok(Date.now() - started < 10_000);
    assert.equal((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, pid);
    await c.end();
  });

  test('max_idle bounds the parked connections; different startup parameters never share one', async () => {
    front().pool.clear();
    const full = await metric('sidekey_pg_pool_returns_total', '{outcome="full",target="pooled"}');
    const clients = Array.from({ length: 3 }, () => client('pooled'));
    await Promise.all(clients.map((c) => c.connect()));
    await Promise.all(clients.map((c) => c.end()));
    await waitForAsync(
      async () => (await metric('sidekey_pg_pool_returns_total', '{outcome="full",target="pooled"}')) === full + 1,
      'one return refused as full',
    );
    assert.equal(idle('pooled'), 2);
    const other = await session('pooled', async () => {}, { application_name: 'another-app' });
    const parkedPids = await postgres.query(
      "SELECT pid FROM pg_stat_activity WHERE usename = 'app_user' AND state = 'idle' AND application_name = ''",
    );
    assert.ok(!parkedPids.rows.some((r) => r.pid === other), 'a client with another application_name got a new backend');
  });

  test('a parked connection is closed after idle_seconds', async () => {
    const expired = await metric('sidekey_pg_pool_evictions_total', '{reason="idle_timeout",target="short"}');
    const pid = await session('short');
    await waitFor(() => idle('short') === 1, 'the connection to be parked');
    await waitFor(() => idle('short') === 0, 'the idle timeout', 4000);
    assert.equal(await metric('sidekey_pg_pool_evictions_total', '{reason="idle_timeout",target="short"}'), expired + 1);
    const next = await session('short');
    assert.notEqual(next, pid);
  });

  test('a parked backend that the server ends is dropped, and the next client gets a working one', async () => {
    await waitFor(() => idle('short') === 1, 'the connection to be parked');
    const [pid] = (
      await postgres.query(
        "SELECT pid FROM pg_stat_activity WHERE usename = 'app_user' AND state = 'idle' ORDER BY backend_start DESC LIMIT 1",
      )
    ).rows.map((r) => r.pid as number);
    await postgres.query(`SELECT pg_terminate_backend(${pid})`);
    await waitFor(() => idle('short') === 0, 'the dead connection to be dropped');
    const next = await session('short');
    assert.notEqual(next, pid);
  });

  test('a client that sends Terminate but never closes its side is ended at once, as PostgreSQL does; its connection is parked', async () => {
    front().pool.clear();
    // allowHalfOpen: this side stays open after the proxy's FIN, as a misbehaving client would.
    const socket = connect({ port: portOf('pooled'), host: '127.0.0.1', allowHalfOpen: true });
    let received = Buffer.alloc(0);
    const readyCount = () => {
      let count = 0;
      for (let at = 0; at + 5 <= received.length; at += 1 + received.readInt32BE(at + 1)) if (received[at] === 0x5a) count++;
      return count;
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(startupPacket({ user: 'me', database: 'ignored' }));
    await waitFor(() => readyCount() === 1, 'ReadyForQuery after the login');
    socket.write(frontendMessage('Q', 'SELECT 1\0'));
    await waitFor(() => readyCount() === 2, 'ReadyForQuery after the query');
    socket.write(frontendMessage('X'));
    await Promise.race([ended, new Promise((_, reject) => setTimeout(() => reject(new Error('the proxy did not end the session')), 2000))]);
    // The upstream connection goes back to the pool while this client has still not closed its side.
    await waitFor(() => idle('pooled') === 1, 'the connection to be parked');
    assert.equal(socket.writableEnded, false);
    socket.destroy();
  });

  test('max_idle: 0 turns pooling off', async () => {
    const a = await session('unpooled');
    const gone = async () => (await postgres.query(`SELECT 1 FROM pg_stat_activity WHERE pid = ${a}`)).rowCount === 0;
    await waitForAsync(gone, 'its backend to end');
    const b = await session('unpooled');
    assert.notEqual(a, b);
    assert.equal(idle('unpooled'), 0);
  });
});

describe('reload', () => {
  test('a changed user and password apply to new sessions; an open session keeps working; its connection is not parked', async () => {
    const open = client('pooled');
    await open.connect();
    assert.equal((await open.query('SELECT current_user AS u')).rows[0].u, 'app_user');
    const stale = await metric('sidekey_pg_pool_returns_total', '{outcome="stale",target="pooled"}');
    const applied = await daemon.reload(
      config({ ...TARGETS, pooled: { ...TARGETS.pooled, user: 'md5_user', password: PG_USERS.md5_user } }),
    );
    assert.equal(applied, true);
    assert.equal(idle('pooled'), 0, 'parked connections of the old settings are closed');
    const fresh = client('pooled');
    await fresh.connect();
    assert.equal((await fresh.query('SELECT current_user AS u')).rows[0].u, 'md5_user');
    await fresh.end();
    assert.equal((await open.query('SELECT current_user AS u, 1 AS one')).rows[0].u, 'app_user');
    await open.end();
    await waitForAsync(
      async () => (await metric('sidekey_pg_pool_returns_total', '{outcome="stale",target="pooled"}')) === stale + 1,
      'the old session to be closed as stale',
    );
  });

  test('a changed listen address moves new sessions; an open session on the old one keeps working', async () => {
    const oldPort = portOf('unpooled');
    const open = client('unpooled');
    await open.connect();
    const newPort = await freePort();
    assert.equal(await daemon.reload(config({ ...TARGETS, unpooled: { ...TARGETS.unpooled, listen: `127.0.0.1:${newPort}` } })), true);
    assert.equal(portOf('unpooled'), newPort);
    await assert.rejects(new pg.Client({ host: '127.0.0.1', port: oldPort, user: 'me' }).connect(), /ECONNREFUSED/);
    const fresh = new pg.Client({ host: '127.0.0.1', port: newPort, user: 'me' });
    await fresh.connect();
    assert.equal((await fresh.query('SELECT 2 AS two')).rows[0].two, 2);
    await fresh.end();
    assert.equal((await open.query('SELECT 1 AS one')).rows[0].one, 1);
    await open.end();
  });
});

/**
 * A target reached over plain TCP (tls mode disable, password auth, as on a private network or in
 * the benchmark): its upstream socket is read with onread into a reused buffer (UpstreamReads).
 * Results larger than every socket buffer, to a client that stops reading for a while, must
 * arrive intact (a relayed chunk whose write is queued must not be overwritten by the next
 * read), and pooled connections must be reset and reused as over TLS.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres-server.js';
import { waitForAsync } from '../helpers/wait-for.js';
import { listenerPort } from './fixtures/listener-port.js';
import { plainTargetYaml } from './fixtures/plain-target.js';

let postgres: TestPostgres;
let daemon: RunningDaemon;

/** Rows of the large result: about 15 MB on the wire, more than loopback's socket buffers hold. */
const ROWS = 300_000;
/** A corrupted stream can leave the client waiting for bytes that never come: fail instead. */
const TEST_TIMEOUT_MS = 60_000;

const port = (target = 'plain') => listenerPort(daemon, target);

before(async () => {
  postgres = await startPostgres();
  daemon = await startDaemon(
    [
      'admin: { listen: 127.0.0.1:0 }',
      'postgres:',
      '  targets:',
      ...plainTargetYaml('plain', postgres.port),
      // The same database, new logins paced at one a second and no pool (every session logs in).
      ...plainTargetYaml('paced', postgres.port, ['      max_logins_per_second: 1', '      pool: { max_idle: 0 }']),
    ].join('\n'),
  );
});

after(async () => {
  await daemon?.stop();
  await postgres?.stop();
});

test('a large result reaches a client that pauses reading, byte for byte', { timeout: TEST_TIMEOUT_MS }, async () => {
  for (let round = 0; round < 2; round++) {
    const client = new pg.Client({ host: '127.0.0.1', port: port(), user: 'me', database: 'x', query_timeout: TEST_TIMEOUT_MS / 2 });
    await client.connect();
    try {
      const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
      const result = client.query(`SELECT i, md5(i::text) AS h FROM generate_series(1, ${ROWS}) AS i`);
      // Stop reading while the server sends: the proxy's writes to this client queue up.
      stream.pause();
      await new Promise((resolve) => setTimeout(resolve, 300));
      stream.resume();
      const rows = (await result).rows as Array<{ i: number; h: string }>;
      assert.equal(rows.length, ROWS);
      for (const [at, row] of rows.entries()) {
        if (
          row.i !== at + 1 ||
          row.h !==
            createHash('md5')
              .update(String(at + 1))
              .digest('hex')
        ) {
          assert.fail(`row ${at} arrived as ${JSON.stringify(row)}`);
        }
      }
    } finally {
      await client.end();
    }
  }
});

test('plain-TCP upstream connections are reset, parked and reused', { timeout: TEST_TIMEOUT_MS }, async () => {
  const pids: number[] = [];
  const parked = async () =>
    Number(/sidekey_pg_pool_returns_total\{outcome="parked",target="plain"\} (\d+)/.exec(await daemon.daemon.metrics.render())?.[1] ?? 0);
  for (let i = 0; i < 3; i++) {
    const before = await parked();
    const client = new pg.Client({ host: '127.0.0.1', port: port(), user: 'me', database: 'x' });
    await client.connect();
    pids.push((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number);
    await client.query('SET application_name = dirty');
    await client.end();
    // The reset's answer comes back asynchronously: wait for the connection to be parked.
    await waitForAsync(async () => (await parked()) > before, 'the connection to be parked');
  }
  assert.equal(new Set(pids).size, 1, `one backend for all three sessions: ${pids.join(', ')}`);
  const client = new pg.Client({ host: '127.0.0.1', port: port(), user: 'me', database: 'x' });
  await client.connect();
  const name = (await client.query('SHOW application_name')).rows[0].application_name as string;
  await client.end();
  assert.equal(name, '', 'the reset undid the last session settings');
});

test('max_logins_per_second: a burst of new connections is spaced out, and one that would wait past 5 s gets 53300 at once', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const started = performance.now();
  // At one login a second, logins wait 0 to 5 s: six get in, the seventh would wait 6 s.
  const attempts = Array.from({ length: 7 }, async () => {
    const client = new pg.Client({ host: '127.0.0.1', port: port('paced'), user: 'me', database: 'x' });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return { ok: true as const, at: performance.now() - started, client };
    } catch (error) {
      await client.end().catch(() => {});
      return { ok: false as const, at: performance.now() - started, error: error as Error & { code?: string; hint?: string } };
    }
  });
  const results = await Promise.all(attempts);
  const connected = results.filter((r) => r.ok);
  const refused = results.filter((r) => !r.ok);
  try {
    assert.equal(connected.length, 6, 'six logins fit in the 5 s queue');
    assert.equal(refused.length, 1);
    const [no] = refused;
    assert.equal(no?.error.code, '53300');
    assert.match(no?.error.message ?? '', /at most 1 logins per second/);
    assert.match(no?.error.hint ?? '', /max_logins_per_second/);
    assert.ok((no?.at ?? Infinity) < 1000, `refused at once, not after waiting (${no?.at} ms)`);
    const times = connected.map((r) => r.at).sort((a, b) => a - b);
    assert.ok((times[5] ?? 0) >= 4500, `the sixth login waited its turn (${times.map(Math.round).join(', ')} ms)`);
  } finally {
    for (const r of connected) await r.client.end();
  }
});

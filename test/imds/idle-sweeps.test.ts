/**
 * Idle guard connections are closed by the sweep (not by a per-socket timer): after more than
 * IDLE_TIMEOUT_MS without a request or an answer, never before; a request restarts the count.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';
import { AccessLog } from '../../src/imds-guard/access-log.js';
import { GuardConnection, IDLE_SWEEP_MS, IDLE_TIMEOUT_MS, IdleSweeps } from '../../src/imds-guard/guard-connection.js';
import { errorReply } from '../../src/imds-guard/guard-reply.js';
import { captureLogger } from '../helpers/log-capture.js';

const IDLE_SWEEPS = Math.ceil(IDLE_TIMEOUT_MS / IDLE_SWEEP_MS);

async function guardedPair(): Promise<{ client: Socket; sweeps: IdleSweeps; close: () => void }> {
  const connections = new Set<GuardConnection>();
  const sweeps = new IdleSweeps(connections);
  const log = new AccessLog(captureLogger().logger, new MetricsRegistry());
  const denied = errorReply('IMDS_DENIED', 'denied', { decision: 'deny', rule: 'test' });
  const server = createServer((socket) => connections.add(new GuardConnection(socket, () => denied, log, sweeps)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  const client = connect(address.port, '127.0.0.1');
  await once(client, 'connect');
  while (connections.size === 0) await new Promise((resolve) => setImmediate(resolve));
  return { client, sweeps, close: () => server.close() };
}

/** Time for a close the sweeps would have caused to arrive, before checking that none did. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

test('an idle connection is closed after more than IDLE_TIMEOUT_MS of sweeps, not before', async () => {
  const { client, sweeps, close } = await guardedPair();
  try {
    const closed = once(client, 'close');
    for (let i = 0; i < IDLE_SWEEPS; i++) sweeps.sweep();
    await settle();
    assert.equal(client.destroyed, false, 'still open after IDLE_TIMEOUT_MS worth of sweeps');
    sweeps.sweep();
    await closed;
  } finally {
    close();
  }
});

test('a request restarts the idle count', async () => {
  const { client, sweeps, close } = await guardedPair();
  try {
    for (let i = 0; i < IDLE_SWEEPS; i++) sweeps.sweep();
    client.write('GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n');
    const [answer] = (await once(client, 'data')) as [Buffer];
    assert.match(answer.toString('latin1'), /^HTTP\/1\.1 403 /);
    for (let i = 0; i < IDLE_SWEEPS; i++) sweeps.sweep();
    await settle();
    assert.equal(client.destroyed, false, 'the request counted as activity');
    const closed = once(client, 'close');
    sweeps.sweep();
    await closed;
  } finally {
    close();
  }
});

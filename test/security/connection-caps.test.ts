/**
 * no connection caps on the credential endpoint, secrets API and admin listener (20,200
 * idle connections ran the daemon out of file descriptors and every front stopped answering), and
 * the guard's one cap shared by every caller. A real daemon with all four HTTP fronts and small
 * caps; floods come from their own loopback source addresses (127.0.0.0/8).
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { HEADERS_TIMEOUT_MS } from '../../src/net/connection-limits.js';
import { daemonConfig, getCredentials, httpRequest, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { waitFor, waitForAsync } from '../helpers/wait-for.js';
import { type ImdsPeer, startImdsPeer } from '../peers/imds-peer.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const READER = randomToken();
const PER_SOURCE = 10;
const LISTENER_MAX = 30;
let sts: StsPeer;
let imds: ImdsPeer;
let d: RunningDaemon;
const sockets: Socket[] = [];

before(async () => {
  sts = await startStsPeer();
  imds = await startImdsPeer();
  const caps = { max_connections: LISTENER_MAX, max_connections_per_source: PER_SOURCE };
  d = await startDaemon(
    daemonConfig(
      sts.url,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      {
        server: { listeners: ['127.0.0.1:0'], ...caps },
        admin: { listen: '127.0.0.1:0', ...caps },
        secrets: {
          listen: '127.0.0.1:0',
          ...caps,
          store: { type: 'sqlite', path: './data/secrets.db' },
          keyring: { type: 'local', key_file: './data/master.key' },
          tokens: [{ id: 'reader', token: READER, role: 'reader' }],
        },
        imds: { listen: '127.0.0.1:0', upstream: imds.url, ...caps },
      },
    ),
  );
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});

after(async () => {
  for (const s of sockets) s.destroy();
  await d?.stop();
  await sts?.close();
  await imds?.close();
});

/** Opens `count` idle connections from `source`; resolves with how many stay open once at most `expected` are. */
async function flood(front: string, source: string, count: number, expected: number): Promise<number> {
  const address = d.address(front);
  assert.ok(address.kind === 'tcp');
  const opened = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const s = connect({ host: '127.0.0.1', port: address.port, localAddress: source });
          s.on('error', () => {});
          s.once('connect', () => resolve(s));
          s.once('close', () => resolve(s));
        }),
    ),
  );
  sockets.push(...opened);
  const open = () => opened.filter((s) => !s.destroyed && s.readyState === 'open').length;
  await waitFor(() => open() <= expected, `${front} to close all but ${expected} of ${count} connections from ${source}`, 2000).catch(
    () => {},
  );
  return open();
}

const fronts = ['credential-endpoint', 'secrets', 'admin', 'imds'];

test('one source gets at most max_connections_per_source connections on each listener', async () => {
  for (const [i, front] of fronts.entries()) {
    assert.equal(await flood(front, `127.0.1.${i + 1}`, PER_SOURCE + 5, PER_SOURCE), PER_SOURCE, front);
  }
});

test('a full listener refuses new connections while the other fronts, admin and health included, keep answering', async () => {
  // Three more sources fill the credential endpoint to LISTENER_MAX.
  for (let i = 0; i < 3; i++) await flood('credential-endpoint', `127.0.2.${i + 1}`, PER_SOURCE, PER_SOURCE);
  assert.equal(await flood('credential-endpoint', '127.0.3.1', 1, 0), 0, 'the full listener took one more');
  assert.equal((await httpRequest(`${d.url('admin')}/health`)).status, 200);
  const secret = await httpRequest(`${d.url('secrets')}/latest/secrets/none`, { authorization: `Bearer ${READER}` });
  assert.equal(secret.status, 404);
  const refusedMetrics = (await httpRequest(`${d.url('admin')}/metrics`)).text;
  assert.match(refusedMetrics, /sidekey_connections_refused_total\{front="credential-endpoint",reason="listener-full"\} [1-9]/);
  assert.match(refusedMetrics, /sidekey_connections_refused_total\{front="imds",reason="source-full"\} [1-9]/);
  // Closing the flood frees the listener.
  for (const s of sockets.splice(0)) s.destroy();
  const answered = () =>
    getCredentials(d.url('credential-endpoint'), TOKEN_WEB).then(
      (r) => r.status === 200,
      () => false,
    );
  await waitForAsync(answered, 'the listener to free up');
});

test('a connection that sends nothing is closed after the head timeout on every HTTP listener', async () => {
  const started = Date.now();
  const closed = await Promise.all(
    ['credential-endpoint', 'secrets', 'admin'].map(
      (front) =>
        new Promise<number>((resolve) => {
          const address = d.address(front);
          assert.ok(address.kind === 'tcp');
          const s = connect(address.port, '127.0.0.1');
          s.on('error', () => {});
          s.resume(); // read the 408, or 'close' never comes
          s.once('close', () => resolve(Date.now() - started));
        }),
    ),
  );
  for (const ms of closed) assert.ok(ms >= HEADERS_TIMEOUT_MS - 500 && ms < HEADERS_TIMEOUT_MS + 3000, `closed after ${ms} ms`);
});

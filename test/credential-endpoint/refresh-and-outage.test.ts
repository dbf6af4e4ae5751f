/**
 * The cache's schedule over hours of (manual) time, through the real endpoint and the real STS
 * client against the STS peer: refresh-ahead keeps more than 15 minutes on served credentials,
 * concurrent misses make one STS call, an outage is invisible while credentials are valid, and
 * 503 comes only after expiry.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import { formatListenAddress } from '../../src/core/config/listen-address.js';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createCredentialBroker } from '../../src/core/credentials/create-credential-broker.js';
import type { ServiceCredentialCache } from '../../src/core/credentials/service-credential-cache.js';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';
import { type CredentialEndpointFront, createCredentialEndpointFront } from '../../src/credential-endpoint/credential-endpoint-front.js';
import { assertNoSecrets, captureLogger } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitForAsync } from '../helpers/wait-for.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import {
  daemonConfig,
  getCredentials,
  type HttpAnswer,
  ROLE_WEB,
  ROLE_WORKER,
  type ServiceSpec,
  TOKEN_WEB,
  TOKEN_WORKER,
} from './fixtures.js';
import { ManualClock } from './manual-clock.js';

const MINUTE = 60_000;
const FIFTEEN_MINUTES = 15 * MINUTE;

interface World {
  clock: ManualClock;
  peer: StsPeer;
  cache: ServiceCredentialCache;
  front: CredentialEndpointFront;
  metrics: MetricsRegistry;
  lines: string[];
  get(token: string): Promise<HttpAnswer>;
  /** Waits until every STS call made so far has finished (each ends in one log line). */
  settle(): Promise<void>;
  /** Moves the clock and waits for the refreshes it triggered. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

let world: World | undefined;

async function startWorld(services: Record<string, ServiceSpec>, top: Record<string, unknown> = {}, delayMs = 0): Promise<World> {
  const clock = new ManualClock();
  const peer = await startStsPeer({ now: () => clock.now() });
  peer.delayMs = delayMs;
  const dir = tempDir();
  const loaded = parseConfig(daemonConfig(peer.url, services, top), join(dir.path, 'sidekey.yaml'));
  const { logger, lines } = captureLogger();
  const metrics = new MetricsRegistry();
  const cache = createCredentialBroker(loaded, logger, metrics, { clock });
  const front = createCredentialEndpointFront({ loaded, logger, metrics, broker: cache });
  await front.start();
  const base = `http://${formatListenAddress(front.addresses()[0] as never)}`;
  const finished = () => lines.filter((l) => l.includes('"credentials fetched"') || l.includes('"STS AssumeRole failed')).length;
  // Started calls are counted by the cache as they begin, finished ones by their log line.
  const started = async () =>
    [...(await metrics.render()).matchAll(/^sidekey_upstream_calls_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  const settle = () => waitForAsync(async () => finished() === (await started()), 'STS calls to finish');
  world = {
    clock,
    peer,
    cache,
    front,
    metrics,
    lines,
    get: (token) => getCredentials(base, token),
    settle,
    advance: async (ms) => {
      clock.advance(ms);
      await new Promise((resolve) => setImmediate(resolve));
      await settle();
    },
    close: async () => {
      await front.stop(0);
      await cache.stop();
      await peer.close();
      dir.remove();
      assertNoSecrets(lines, [TOKEN_WEB, TOKEN_WORKER, STS_PEER_BASE_KEY.secretAccessKey, ...peer.issuedSecrets()]);
    },
  };
  return world;
}

afterEach(async () => {
  await world?.close();
  world = undefined;
});

function remainingMs(answer: HttpAnswer, now: number): number {
  return Date.parse(String(answer.json().Expiration)) - now;
}

test('200 concurrent requests on a cold cache make exactly one STS call', async () => {
  const w = await startWorld({ web: { role: ROLE_WEB, token: TOKEN_WEB } }, {}, 150);
  await w.cache.start(); // the prefetch is now in flight at the (slow) peer
  const answers = await Promise.all(Array.from({ length: 200 }, () => w.get(TOKEN_WEB)));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
  assert.equal(new Set(answers.map((a) => a.json().AccessKeyId)).size, 1);
  assert.equal(w.peer.calls(ROLE_WEB), 1);
});

test('served credentials keep more than 15 minutes left across hours of refreshes; 900 s sessions do not loop', async () => {
  const w = await startWorld({
    web: { role: ROLE_WEB, token: TOKEN_WEB },
    worker: { role: ROLE_WORKER, token: TOKEN_WORKER, duration: 900 },
  });
  await w.cache.start();
  await w.settle();
  assert.ok(
    w.lines.some(
      (l) =>
        l.includes('fetch again on every call: raise DurationSeconds') && l.includes('"worker"') && l.includes('"least_left_seconds":450'),
    ),
    'warned about 900 s sessions, naming the setting to raise',
  );
  const keys = new Set<unknown>();
  for (let minute = 0; minute < 4 * 60; minute++) {
    await w.advance(MINUTE);
    const web = await w.get(TOKEN_WEB);
    assert.equal(web.status, 200);
    assert.ok(remainingMs(web, w.clock.now()) > FIFTEEN_MINUTES, `at minute ${minute}: ${remainingMs(web, w.clock.now()) / 1000} s left`);
    keys.add(web.json().AccessKeyId);
    const worker = await w.get(TOKEN_WORKER);
    assert.ok(remainingMs(worker, w.clock.now()) >= 7 * MINUTE, 'short sessions are used for at most half their life');
  }
  // A one-hour session is refreshed when 30 minutes are left: every 30 minutes.
  assert.ok(w.peer.calls(ROLE_WEB) >= 8 && w.peer.calls(ROLE_WEB) <= 10, `web calls ${w.peer.calls(ROLE_WEB)}`);
  assert.equal(keys.size, w.peer.calls(ROLE_WEB));
  // A 900 s session is refreshed at half-life (450 s), not in a loop.
  assert.ok(w.peer.calls(ROLE_WORKER) >= 30 && w.peer.calls(ROLE_WORKER) <= 34, `worker calls ${w.peer.calls(ROLE_WORKER)}`);
});

test('an STS outage is invisible while credentials are valid; 503 after expiry; recovery after backoff', async () => {
  const w = await startWorld({ web: { role: ROLE_WEB, token: TOKEN_WEB } }, { credentials: { retry_delay: 1, max_retry_delay: 60 } });
  await w.cache.start();
  await w.settle();
  const first = (await w.get(TOKEN_WEB)).json().AccessKeyId;
  w.peer.failure = 'throttle';
  for (let second = 30; second < 59 * 60; second += 30) {
    await w.advance(30_000);
    const answer = await w.get(TOKEN_WEB);
    assert.equal(answer.status, 200, `at ${second} s`);
    assert.equal(answer.json().AccessKeyId, first);
  }
  const outageCalls = w.peer.calls(ROLE_WEB) - 1;
  // 29 minutes of outage with backoff 1, 2, 4 ... 60 s: tens of calls, not one per request.
  assert.ok(outageCalls >= 20 && outageCalls <= 40, `calls during outage: ${outageCalls}`);
  assert.match(await w.metrics.render(), /sidekey_upstream_failures_total\{error="Throttling",service="web"\} \d+/);

  await w.advance(2 * MINUTE); // past expiry
  const expired = await w.get(TOKEN_WEB);
  assert.equal(expired.status, 503);
  assert.equal(expired.json().Code, 'CredentialsUnavailable');
  assert.ok(Number(expired.headers['retry-after']) >= 1);
  assert.equal(w.cache.ready(), false);

  const calls = w.peer.calls(ROLE_WEB);
  for (let i = 0; i < 10; i++) assert.equal((await w.get(TOKEN_WEB)).status, 503);
  assert.ok(w.peer.calls(ROLE_WEB) <= calls + 1, 'callers during backoff do not each call STS');

  w.peer.failure = undefined;
  await w.advance(MINUTE);
  const recovered = await w.get(TOKEN_WEB);
  assert.equal(recovered.status, 200);
  assert.notEqual(recovered.json().AccessKeyId, first);
  assert.ok(remainingMs(recovered, w.clock.now()) > FIFTEEN_MINUTES);
  assert.equal(w.cache.ready(), true);
});

test('a failed prefetch is retried in the background; the first caller after recovery is served', async () => {
  const w = await startWorld({ web: { role: ROLE_WEB, token: TOKEN_WEB } });
  w.peer.failure = 'error500';
  w.peer.failTimes = 2;
  await w.cache.start();
  await w.settle();
  assert.equal(w.cache.ready(), false);
  const during = await w.get(TOKEN_WEB);
  assert.equal(during.status, 503);
  for (let second = 0; second < 10; second++) await w.advance(1000);
  assert.equal(w.peer.calls(ROLE_WEB), 3);
  assert.equal(w.cache.ready(), true);
  assert.equal((await w.get(TOKEN_WEB)).status, 200);
});

/**
 * The agent's read-through cache on a manual clock and a fixed jitter: one call per key, the
 * refresh-ahead point, stale-if-error only for transient failures and only within its bound, a
 * forced refresh that reports the failure, failures never cached, and clear() reaching calls in flight.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AgentError } from '../../src/core/agent/agent-answer.js';
import { REFRESH_AHEAD_FRACTION, REFRESH_JITTER_FRACTION, ValueCache } from '../../src/core/agent/value-cache.js';

const TTL = 1000;
const STALE = 500;

function harness(jitter = 0.5) {
  let now = 0;
  const stale: string[] = [];
  const cache = new ValueCache({
    ttlMs: TTL,
    staleMs: STALE,
    now: () => now,
    random: () => jitter,
    onStale: (key, error) => stale.push(`${key}:${error.type}`),
  });
  let calls = 0;
  let next: () => Promise<string> = () => Promise.resolve(`v${calls}`);
  const fetch = () => {
    calls++;
    return next();
  };
  return {
    cache,
    stale,
    get: (refresh = false) => cache.get('k', fetch, refresh),
    calls: () => calls,
    at: (ms: number) => {
      now = ms;
    },
    answer: (f: () => Promise<string>) => {
      next = f;
    },
  };
}
const settle = () => new Promise((resolve) => setImmediate(resolve));
const throttled = () => Promise.reject(new AgentError(400, 'ThrottlingException', 'Rate exceeded'));

test('callers waiting on one key share one call', async () => {
  const h = harness();
  let release: (v: string) => void = () => {};
  h.answer(() => new Promise((resolve) => (release = resolve)));
  const waiting = Array.from({ length: 50 }, () => h.get());
  release('one');
  assert.deepEqual(new Set(await Promise.all(waiting)), new Set(['one']));
  assert.equal(h.calls(), 1);
});

test('refresh-ahead starts one background call at the jittered point; callers never wait for it', async () => {
  const h = harness(0.5);
  assert.equal(await h.get(), 'v1');
  const ahead = TTL * (REFRESH_AHEAD_FRACTION + 0.5 * REFRESH_JITTER_FRACTION);
  h.at(ahead - 1);
  assert.equal(await h.get(), 'v1');
  assert.equal(h.calls(), 1, 'not before the point');
  h.at(ahead);
  let release: (v: string) => void = () => {};
  h.answer(() => new Promise((resolve) => (release = resolve)));
  assert.equal(await h.get(), 'v1', 'answered from the cache while the refresh runs');
  assert.equal(await h.get(), 'v1');
  assert.equal(h.calls(), 2, 'one refresh however many callers');
  release('v2');
  await settle();
  assert.equal(await h.get(), 'v2');
});

test('the jitter spreads refreshes between 75% and 90% of the TTL', async () => {
  for (const [jitter, point] of [
    [0, 750],
    [0.999, 899],
  ] as const) {
    const h = harness(jitter);
    await h.get();
    h.at(point - 1);
    await h.get();
    assert.equal(h.calls(), 1);
    h.at(point + 1);
    await h.get();
    assert.equal(h.calls(), 2, `jitter ${jitter}`);
  }
});

test('stale-if-error: a transient failure past the TTL is bridged, up to the bound', async () => {
  const h = harness();
  await h.get();
  h.answer(throttled);
  h.at(TTL + STALE - 1);
  assert.equal(await h.get(), 'v1');
  assert.deepEqual(h.stale, ['k:ThrottlingException']);
  h.answer(() => Promise.reject(new AgentError(504, 'TimeoutError', 'Timeout')));
  assert.equal(await h.get(), 'v1', 'a timeout too');
  h.at(TTL + STALE);
  await assert.rejects(h.get(), /Timeout/, 'not past the bound');
});

test("a refusal about the secret is passed on and ends what was known; a forced refresh reports the source's failure", async () => {
  const h = harness();
  await h.get();
  h.at(TTL + 1);
  h.answer(() => Promise.reject(new AgentError(400, 'ResourceNotFoundException', 'gone')));
  await assert.rejects(h.get(), /gone/);
  h.answer(throttled);
  await assert.rejects(h.get(), /Rate exceeded/, 'nothing is held after a not-found');

  const forced = harness();
  await forced.get();
  forced.answer(throttled);
  await assert.rejects(forced.get(true), /Rate exceeded/);
  assert.equal(await forced.get(), 'v1', 'the held answer is still good within its TTL');
});

test('failures are not cached, and a TTL of 0 keeps nothing', async () => {
  const h = harness();
  h.answer(throttled);
  await assert.rejects(h.get());
  h.answer(() => Promise.resolve('ok'));
  assert.equal(await h.get(), 'ok');
  assert.equal(h.calls(), 2);
  const none = new ValueCache({ ttlMs: 0, staleMs: 0 });
  let n = 0;
  const fetch = () => Promise.resolve(String(++n));
  assert.equal(await none.get('k', fetch), '1');
  assert.equal(await none.get('k', fetch), '2');
});

test('clear() forgets calls in flight too: what they bring back is not kept, and a caller after it starts a new call', async () => {
  const h = harness();
  const releases: ((v: string) => void)[] = [];
  h.answer(() => new Promise((resolve) => releases.push(resolve)));
  const before = h.get();
  h.cache.clear();
  const after = h.get();
  assert.equal(h.calls(), 2, 'the caller after clear() does not join the call made before it');
  releases[0]?.('before the clear');
  releases[1]?.('after the clear');
  assert.equal(await before, 'before the clear', 'a caller that asked before clear() gets its own call');
  assert.equal(await after, 'after the clear');
  h.answer(() => Promise.resolve('fresh'));
  assert.equal(await h.get(), 'after the clear', 'the answer kept is the one asked for after clear()');
  assert.equal(h.calls(), 2);
});

test('an answer asked for before clear() and arriving after it is not kept', async () => {
  const h = harness();
  let release: (v: string) => void = () => {};
  h.answer(() => new Promise((resolve) => (release = resolve)));
  const before = h.get();
  h.cache.clear();
  release('old');
  assert.equal(await before, 'old');
  h.answer(() => Promise.resolve('new'));
  assert.equal(await h.get(), 'new');
  assert.equal(h.calls(), 2);
});

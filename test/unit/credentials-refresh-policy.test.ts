import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BOTOCORE_ADVISORY_REFRESH_MS,
  backoffDelayMs,
  EXPIRY_SAFETY_MS,
  isServable,
  keepsAboveBotocoreThreshold,
  leastLeftMs,
  MIN_REFRESH_DELAY_MS,
  refreshDelayMs,
  shortSessionFix,
} from '../../src/core/credentials/refresh-policy.js';
import { defaultSessionName } from '../../src/core/credentials/service-definition.js';
import { TokenBucket } from '../../src/credential-endpoint/token-bucket.js';

const MINUTE = 60_000;

test('a one-hour session with the default 30-minute buffer is refreshed at 30 minutes', () => {
  assert.equal(refreshDelayMs(0, 60 * MINUTE, 30 * MINUTE), 30 * MINUTE);
  assert.ok(keepsAboveBotocoreThreshold(3600, 30 * MINUTE));
});

test('long sessions are refreshed buffer-before-expiry; short ones at half-life, never in a loop', () => {
  assert.equal(refreshDelayMs(0, 12 * 60 * MINUTE, 30 * MINUTE), 11.5 * 60 * MINUTE);
  assert.equal(refreshDelayMs(0, 15 * MINUTE, 30 * MINUTE), 7.5 * MINUTE, '900 s sessions: at half-life');
  assert.equal(refreshDelayMs(0, 500, 30 * MINUTE), MIN_REFRESH_DELAY_MS, 'near-expired credentials: a floor, not a loop');
  assert.equal(refreshDelayMs(0, -5, 30 * MINUTE), MIN_REFRESH_DELAY_MS);
  assert.equal(keepsAboveBotocoreThreshold(900, 30 * MINUTE), false);
  assert.equal(keepsAboveBotocoreThreshold(1800, 30 * MINUTE), false, 'exactly 15 minutes left is not more than 15');
  assert.ok(keepsAboveBotocoreThreshold(2700, 30 * MINUTE));
  assert.equal(BOTOCORE_ADVISORY_REFRESH_MS, 15 * MINUTE);
});

test('the least lifetime handed out, and which setting to raise when it is too little', () => {
  assert.equal(leastLeftMs(3600, 30 * MINUTE), 30 * MINUTE, 'the buffer');
  assert.equal(leastLeftMs(3600, 60 * MINUTE), 30 * MINUTE, 'a buffer as long as the session: half the session');
  assert.equal(leastLeftMs(900, 30 * MINUTE), 7.5 * MINUTE);
  assert.equal(shortSessionFix(900, 30 * MINUTE), 'DurationSeconds', 'half the session is the limit');
  assert.equal(shortSessionFix(3600, 5 * MINUTE), 'credentials.refresh_buffer_seconds', "CredProxy's 300 s buffer is the limit");
});

test('credentials stop being served a few seconds before they expire', () => {
  assert.equal(isServable(10_000, 10_000 - EXPIRY_SAFETY_MS - 1), true);
  assert.equal(isServable(10_000, 10_000 - EXPIRY_SAFETY_MS), false);
});

test('backoff doubles from the base up to the cap, with jitter in the upper half', () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => backoffDelayMs(n, 1000, 60_000, high)),
    [1000, 2000, 4000, 8000],
  );
  assert.deepEqual(
    [1, 2, 3].map((n) => backoffDelayMs(n, 1000, 60_000, low)),
    [500, 1000, 2000],
  );
  assert.equal(backoffDelayMs(50, 1000, 60_000, high), 60_000);
  assert.equal(backoffDelayMs(1000, 1000, 60_000, low), 30_000, 'huge failure counts do not overflow');
  const samples = new Set(Array.from({ length: 20 }, () => backoffDelayMs(3, 1000, 60_000)));
  assert.ok(samples.size > 1, 'jitter varies');
});

test('default session names fit STS limits', () => {
  assert.equal(defaultSessionName('web'), 'sidekey-web');
  assert.equal(defaultSessionName('a'.repeat(63)).length, 64);
});

test('a token bucket allows the burst, then the steady rate', () => {
  let now = 0;
  const bucket = new TokenBucket({ per_second: 10, burst: 3 }, () => now);
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
  assert.equal(bucket.retryAfterSeconds(), 1);
  now += 100; // one token at 10/s
  assert.deepEqual([bucket.take(), bucket.take()], [true, false]);
  now += 10_000;
  assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false], 'refill caps at the burst');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoginPacer } from '../../src/core/pg/login-pacer.js';

test('up to a second of logins at once, then one every 1/rate seconds', () => {
  let now = 0;
  const pacer = new LoginPacer(4, () => now);
  const waits = Array.from({ length: 6 }, () => pacer.reserve(5000));
  assert.deepEqual(waits, [0, 0, 0, 0, 250, 500]);
  now = 2000; // idle long enough: the burst is back, not more
  assert.deepEqual(
    Array.from({ length: 5 }, () => pacer.reserve(5000)),
    [0, 0, 0, 0, 250],
  );
});

test('a login that would wait longer than the limit is refused and takes no slot', () => {
  let now = 0;
  const pacer = new LoginPacer(1, () => now);
  assert.deepEqual(
    Array.from({ length: 3 }, () => pacer.reserve(1500)),
    [0, 1000, undefined],
  );
  now = 1000;
  assert.equal(pacer.reserve(1500), 1000, 'the refused login did not push the schedule');
});

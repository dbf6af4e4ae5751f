/**
 * AfterArrivalChecks: concurrent callers share checks, and none is answered by a check that was
 * sent before it arrived.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AfterArrivalChecks } from '../../src/core/secrets/after-arrival-checks.js';

/** A check whose answer the test gives, counting how many were sent. */
function controlledChecks() {
  const sent: { answer: (value: boolean) => void; fail: (error: Error) => void }[] = [];
  const check = () =>
    new Promise<boolean>((resolve, reject) => {
      sent.push({ answer: resolve, fail: reject });
    });
  return { sent, check };
}

test('a caller that arrives while a check runs gets the next check, not the running one', async () => {
  const checks = new AfterArrivalChecks<boolean>();
  const { sent, check } = controlledChecks();
  const first = checks.run('k', check);
  const second = checks.run('k', check);
  assert.equal(sent.length, 1, 'the second waits for the first to end before its own is sent');
  // The store changed after the first check was sent (a revoke): only the second may see it.
  sent[0]?.answer(true);
  assert.equal(await first, true);
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.length, 2);
  sent[1]?.answer(false);
  assert.equal(await second, false);
});

test('a hundred callers at once cost two checks; other keys are independent', async () => {
  const checks = new AfterArrivalChecks<boolean>();
  const { sent, check } = controlledChecks();
  const answers = Array.from({ length: 100 }, () => checks.run('k', check));
  const other = checks.run('other', check);
  assert.equal(sent.length, 2, 'one for k, one for other');
  sent[0]?.answer(true);
  sent[1]?.answer(false);
  await new Promise((r) => setImmediate(r));
  assert.equal(sent.length, 3, 'the 99 that arrived while the first ran share one more');
  sent[2]?.answer(true);
  assert.deepEqual(new Set(await Promise.all(answers)), new Set([true]));
  assert.equal(await other, false);
  // Nothing left running: the next caller sends a check at once.
  checks.run('k', check);
  assert.equal(sent.length, 4);
});

test('a failed check fails its callers, and the waiting one is still sent', async () => {
  const checks = new AfterArrivalChecks<boolean>();
  const { sent, check } = controlledChecks();
  const first = checks.run('k', check);
  const second = checks.run('k', check);
  sent[0]?.fail(new Error('throttled'));
  await assert.rejects(first, /throttled/);
  await new Promise((r) => setImmediate(r));
  sent[1]?.answer(true);
  assert.equal(await second, true);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REDACTED, redactSecrets } from '../../src/core/log/logger.js';
import { assertNoSecrets, captureLogger } from '../helpers/log-capture.js';

const SECRET = 'super-secret-value-0123456789abcdef';

test('secret fields are replaced whole at any depth, in any case, in lists too', async () => {
  const { logger, lines } = captureLogger();
  logger.info({ token: SECRET, nested: { Authorization: SECRET, deeper: { SecretAccessKey: SECRET } } }, 'one');
  logger.info({ list: [{ password: SECRET }], headers: { 'x-aws-ec2-metadata-token': SECRET } }, 'two');
  logger.child({ auth_token: SECRET }).info('three');
  logger.info({ Token: SECRET, SessionToken: SECRET, payload: SECRET }, 'four');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 4);
  assertNoSecrets(lines, [SECRET]);
  assert.equal((JSON.parse(lines[0] as string) as { token: string }).token, REDACTED);
});

test('nothing else changes, and objects with nothing to hide are not copied', () => {
  const clean = { service: 'web', nested: { roleArn: 'arn:aws:iam::123456789012:role/X' }, n: 3 };
  assert.equal(redactSecrets(clean), clean);
  const dirty = { service: 'web', nested: { password: 'x', keep: 1 } };
  assert.deepEqual(redactSecrets(dirty), { service: 'web', nested: { password: REDACTED, keep: 1 } });
  assert.equal(dirty.nested.password, 'x', "the caller's object is not modified");
});

test('errors keep being serialized by code and message', async () => {
  const { logger, lines } = captureLogger();
  const error = Object.assign(new Error('boom'), { code: 'SK_TEST' });
  logger.error({ err: error }, 'failed');
  await new Promise((r) => setImmediate(r));
  const entry = JSON.parse(lines[0] as string) as { err: { message: string; code: string } };
  assert.equal(entry.err.message, 'boom');
  assert.equal(entry.err.code, 'SK_TEST');
});

test('redaction stays cheap (well under 20 us per line)', () => {
  const sample = { audit: 'credentials.vend', service: 'web', roleArn: 'arn', caller: '127.0.0.1', nested: { a: 1, b: { c: 2 } } };
  const rounds = 20_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) redactSecrets(sample);
  const perLineUs = Number(process.hrtime.bigint() - started) / rounds / 1000;
  assert.ok(perLineUs < 20, `redaction took ${perLineUs.toFixed(2)} us per line`);
});

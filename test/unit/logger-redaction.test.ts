import assert from 'node:assert/strict';
import { test } from 'node:test';
import { audit, auditLine, auditLogger } from '../../src/core/log/audit.js';
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

test("an auditLogger's line: bound and per-line secret fields redacted, values escaped, nothing below the level", async () => {
  const { logger, lines } = captureLogger('info');
  const events = auditLogger(logger.child({ front: 'credential-endpoint' }), 'credentials.request', {
    service: 'web',
    authorization: SECRET,
  });
  const fields = { caller: '127.0.0.1', outcome: 'ok', status: 200, quoted: 'a "b" \\ \n', token: SECRET, ratio: Number.NaN, ok: true };
  auditLine(events, 'credentials.request', fields);
  auditLine(events, 'another.event', { n: 1 });
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2);
  assertNoSecrets(lines, [SECRET]);
  const entry = JSON.parse(lines[0] as string) as Record<string, unknown>;
  assert.equal(entry.level, 'info');
  assert.equal(entry.front, 'credential-endpoint');
  assert.equal(entry.audit, 'credentials.request');
  assert.equal(entry.token, REDACTED);
  assert.equal(entry.authorization, REDACTED);
  assert.equal(entry.quoted, 'a "b" \\ \n');
  assert.equal(entry.ratio, null);
  assert.equal(entry.msg, 'credentials.request');
  assert.equal((JSON.parse(lines[1] as string) as Record<string, unknown>).msg, 'another.event');

  logger.level = 'warn';
  auditLine(auditLogger(logger, 'credentials.request'), 'credentials.request', fields);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2, 'nothing below the level');
});

test('audit(): the event bound under `audit`, flat and nested fields kept, secrets redacted at any depth', async () => {
  const { logger, lines } = captureLogger('info');
  const child = logger.child({ front: 'secrets' });
  const flat = { actor: 'app-reader', app: 'shop', name: 'db "main"', serial: 3, ok: true, skipped: undefined, password: SECRET };
  audit(child, 'secrets.fetch', flat);
  const nested = { actor: 'app-reader', details: { token: SECRET, n: 1 } };
  audit(child, 'secrets.denied', nested);
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.length, 2);
  assertNoSecrets(lines, [SECRET]);
  const [fetch, denied] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    { ...fetch, time: undefined },
    {
      level: 'info',
      time: undefined,
      front: 'secrets',
      audit: 'secrets.fetch',
      actor: 'app-reader',
      app: 'shop',
      name: 'db "main"',
      serial: 3,
      ok: true,
      password: REDACTED,
      msg: 'secrets.fetch',
    },
  );
  assert.equal(denied?.audit, 'secrets.denied');
  assert.deepEqual(denied?.details, { token: REDACTED, n: 1 });
});

/**
 * The two lines every successful Postgres session writes are serialized by hand into pino's
 * layout (session-lines.ts); they must be byte for byte what pino itself writes for the same
 * fields, including strings that need escaping.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOGIN_AUDIT_EVENT, SESSION_CLOSED_MESSAGE, SessionLines } from '../../src/pg-proxy/session-lines.js';
import { captureLogger } from '../helpers/log-capture.js';

/** The time field differs between two lines written in different milliseconds. */
const timeless = (line: string) => line.replace(/,"time":"[^"]*"/, ',"time":"T"');

test('login and session-end lines are the bytes pino writes for the same fields', async () => {
  const { logger, lines } = captureLogger('info');
  const bound = new SessionLines(logger).bound('client', 'orders', 'app_user');
  const odd = 'me "quoted" \\ \u00e9\u0001';
  for (const [reused, client, localUser] of [
    [true, '127.0.0.1:50000', 'alice'],
    [false, '[::1]:6000', odd],
  ] as const) {
    bound.login(reused, client, localUser);
    (reused ? bound.pooled : bound.fresh).info({ client, local_user: localUser }, LOGIN_AUDIT_EVENT);
    bound.ended(client, 12, reused, { toUpstream: 40, toClient: 1234 });
    bound.closed.info({ client, duration_ms: 12, reused_upstream: reused, toUpstream: 40, toClient: 1234 }, SESSION_CLOSED_MESSAGE);
  }
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(lines.length, 8);
  for (let at = 0; at < lines.length; at += 2) {
    assert.equal(timeless(lines[at] as string), timeless(lines[at + 1] as string));
  }
  const login = JSON.parse(lines[4] as string) as Record<string, unknown>;
  assert.equal(login.local_user, odd);
  assert.equal(login.upstream, 'new');
  assert.equal(login.outcome, 'ok');
  assert.equal(login.audit, LOGIN_AUDIT_EVENT);
});

test('below the info level neither line is written', async () => {
  const { logger, lines } = captureLogger('warn');
  const bound = new SessionLines(logger).bound('server', 'orders', 'app_user');
  bound.login(true, '127.0.0.1:1', 'alice');
  bound.ended('127.0.0.1:1', 1, true, { toUpstream: 1, toClient: 1 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(lines, []);
});

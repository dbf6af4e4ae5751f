/**
 * Every bad name, serial, payload, body and token gets its status and a message naming what was
 * wrong; the admin/reader split and name patterns hold on every route; a tampered row answers a
 * 500 that reveals nothing.
 */
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { call } from './api-client.js';
import { type ApiFixture, apiForFile } from './api-fixture.js';

let api: ApiFixture;
/** Made before the tests are declared: the case tables refer to them. */
const { tokens } = apiForFile(async (started) => {
  api = started;
  // Secrets the cases refer to: one with two versions, the second revoked.
  for (const payload of [secret('one'), secret('two')])
    await call(base(), 'POST', '/latest/secrets/db-latest', { token: tokens.admin, body: { payload } });
  await call(base(), 'POST', '/latest/revoke/db-latest/2', { token: tokens.admin });
  await call(base(), 'POST', '/latest/secrets/db-main', { token: tokens.admin, body: { payload: secret('main') } });
});
const base = () => api.base;
const secret = (label: string) => api.secret(label);

describe('every bad input gets its status and a message naming what was wrong', () => {
  const cases: [
    string,
    string,
    string,
    { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
    number,
    string,
    RegExp,
  ][] = [
    ['no token', 'GET', '/latest/secrets/db-x', {}, 401, 'SK_UNAUTHORIZED', /missing Authorization header/],
    ['wrong token', 'GET', '/latest/secrets/db-x', { token: randomToken() }, 401, 'SK_UNAUTHORIZED', /not valid/],
    [
      'basic auth',
      'GET',
      '/latest/secrets/db-x',
      { headers: { authorization: 'Basic dXNlcjpwYXNz' } },
      401,
      'SK_UNAUTHORIZED',
      /malformed/,
    ],
    ['name with a space', 'GET', '/latest/secrets/DB%20X', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /may contain only letters/],
    [
      'name with a control character',
      'GET',
      '/latest/secrets/DB%0AX',
      { token: tokens.reader },
      400,
      'SK_NAME_INVALID',
      /control characters/,
    ],
    ['name with dot dot', 'GET', '/latest/secrets/a..b', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /path traversal/],
    ['encoded slash', 'GET', '/latest/secrets/a%2Fb', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /path traversal/],
    ['long name', 'GET', `/latest/secrets/${'a'.repeat(256)}`, { token: tokens.reader }, 400, 'SK_NAME_INVALID', /at most 255/],
    [
      'leading hyphen',
      'POST',
      '/latest/secrets/-db',
      { token: tokens.admin, body: { payload: 'x' } },
      400,
      'SK_NAME_INVALID',
      /starting with a letter, digit or "_"/,
    ],
    [
      'serial zero',
      'GET',
      '/latest/secrets/db-x/0',
      { token: tokens.reader },
      400,
      'SK_BAD_REQUEST',
      /invalid serial "0": expected a positive integer/,
    ],
    ['negative serial', 'POST', '/latest/revoke/db-x/-1', { token: tokens.admin }, 400, 'SK_BAD_REQUEST', /invalid serial "-1"/],
    ['serial with letters', 'GET', '/v1/secrets/db-x/1a', { token: tokens.reader }, 400, 'SK_BAD_REQUEST', /invalid serial "1a"/],
    ['huge serial', 'GET', '/v1/secrets/db-x/99999999999999999', { token: tokens.reader }, 400, 'SK_BAD_REQUEST', /invalid serial/],
    ['missing payload', 'POST', '/latest/secrets/db-x', { token: tokens.admin, body: {} }, 400, 'SK_BAD_REQUEST', /needs "payload"/],
    ['no body', 'POST', '/latest/secrets/db-x', { token: tokens.admin }, 400, 'SK_BAD_REQUEST', /JSON body is required/],
    [
      'numeric payload',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, body: { payload: 5 } },
      400,
      'SK_BAD_REQUEST',
      /payload must be a string/,
    ],
    [
      'empty payload',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, body: { payload: '' } },
      400,
      'SK_BAD_REQUEST',
      /must not be empty/,
    ],
    [
      'invalid JSON',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, rawBody: '{"payload":' },
      400,
      'SK_BAD_REQUEST',
      /not valid JSON/,
    ],
    ['JSON array', 'POST', '/latest/secrets/db-x', { token: tokens.admin, rawBody: '["x"]' }, 400, 'SK_BAD_REQUEST', /JSON object/],
    [
      'unknown field',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, body: { payload: 'x', version: 2 } },
      400,
      'SK_BAD_REQUEST',
      /unknown field "version"/,
    ],
    [
      'bad expected_serial',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, body: { payload: 'x', expected_serial: -1 } },
      400,
      'SK_BAD_REQUEST',
      /expected_serial must be an integer/,
    ],
    [
      'payload over 64 KiB',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, body: { payload: 'x'.repeat(65537) } },
      413,
      'SK_PAYLOAD_TOO_LARGE',
      /65537 bytes; the limit is 65536/,
    ],
    [
      'body over the limit',
      'POST',
      '/latest/secrets/db-x',
      { token: tokens.admin, rawBody: 'x'.repeat(400 * 1024) },
      413,
      'SK_PAYLOAD_TOO_LARGE',
      /request body is larger/,
    ],
    [
      'bad rotate length',
      'POST',
      '/latest/rotate/db-x',
      { token: tokens.admin, body: { length: 3 } },
      400,
      'SK_BAD_REQUEST',
      /length must be an integer from 8/,
    ],
    [
      'bad alphabet',
      'POST',
      '/latest/rotate/db-x',
      { token: tokens.admin, body: { alphabet: 'emoji' } },
      400,
      'SK_BAD_REQUEST',
      /unknown alphabet/,
    ],
    [
      'unknown query',
      'GET',
      '/latest/secrets/db-x?version=2',
      { token: tokens.reader },
      400,
      'SK_BAD_REQUEST',
      /unknown query parameter "version"/,
    ],
    ['unknown route', 'GET', '/latest/nothing', { token: tokens.reader }, 404, 'SK_NOT_FOUND', /no route GET \/latest\/nothing/],
    ['unknown prefix', 'GET', '/v2/secrets/db-x', { token: tokens.reader }, 404, 'SK_NOT_FOUND', /no route/],
    ['wrong method', 'PUT', '/latest/secrets/db-x', { token: tokens.admin }, 405, 'SK_METHOD_NOT_ALLOWED', /allowed: GET, POST, DELETE/],
    [
      'missing secret',
      'GET',
      '/latest/secrets/db-nothing',
      { token: tokens.reader },
      404,
      'SK_SECRET_NOT_FOUND',
      /no secret named "db-nothing" in application "cryptex"/,
    ],
    ['missing serial', 'GET', '/latest/secrets/db-latest/99', { token: tokens.reader }, 404, 'SK_SECRET_NOT_FOUND', /has no serial 99/],
    [
      'forwarded',
      'GET',
      '/latest/secrets/db-x',
      { token: tokens.reader, headers: { 'x-forwarded-for': '10.0.0.1' } },
      403,
      'SK_FORWARDED_REFUSED',
      /x-forwarded-for/,
    ],
    [
      'forwarded (RFC 7239)',
      'GET',
      '/latest/secrets/db-x',
      { token: tokens.reader, headers: { forwarded: 'for=10.0.0.1' } },
      403,
      'SK_FORWARDED_REFUSED',
      /forwarded/,
    ],
    [
      'foreign Host',
      'GET',
      '/latest/secrets/db-x',
      { token: tokens.reader, headers: { host: 'attacker.example' } },
      403,
      'SK_HOST_REFUSED',
      /Host header/,
    ],
  ];
  for (const [label, method, path, options, status, code, message] of cases) {
    test(`${label}: ${status} ${code}`, async () => {
      const reply = await call(base(), method, path, options);
      assert.equal(reply.status, status, reply.text);
      assert.equal(reply.body.Code, code, reply.text);
      assert.match(String(reply.body.Message), message);
      if (status === 401) assert.equal(reply.headers['www-authenticate'], 'Bearer realm="sidekey-secrets"');
      if (status === 405) assert.equal(reply.headers.allow, 'GET, POST, DELETE');
    });
  }

  test('check-and-set conflict: 409 naming both serials', async () => {
    await call(base(), 'POST', '/latest/secrets/db-cas', { token: tokens.admin, body: { payload: secret('cas'), expected_serial: 0 } });
    const reply = await call(base(), 'POST', '/latest/secrets/db-cas', {
      token: tokens.admin,
      body: { payload: secret('cas'), expected_serial: 0 },
    });
    assert.equal(reply.status, 409);
    assert.match(String(reply.body.Message), /expected current serial 0, it is 1/);
  });

  test('a tampered row: 500 that says nothing internal, the log says what happened', async () => {
    await call(base(), 'POST', '/latest/secrets/db-tampered', { token: tokens.admin, body: { payload: secret('t') } });
    const db = new Database(`${api.daemon.dir}/data/secrets.db`);
    db.prepare("UPDATE secret_versions SET name = 'db-tampered', serial = 2 WHERE name = 'db-main' AND serial = 1").run();
    db.close();
    const reply = await call(base(), 'GET', '/latest/secrets/db-tampered/2', { token: tokens.reader });
    assert.equal(reply.status, 500);
    assert.deepEqual(reply.body, { Code: 'SK_INTERNAL', Message: 'internal error; the daemon log has the details' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      api.daemon.lines.some((l) => l.includes('cryptex/db-tampered#2 failed its integrity check')),
      api.daemon.lines.filter((l) => l.includes('tamper')).join('\n'),
    );
  });
});

describe('the admin/reader split holds on every route', () => {
  const routes: [string, string, unknown, 'admin' | 'reader' | 'both'][] = [
    ['GET', '/latest/secrets', undefined, 'both'],
    ['GET', '/latest/secrets/db-split', undefined, 'reader'],
    ['GET', '/latest/secrets/db-split/1', undefined, 'reader'],
    ['GET', '/v1/history/db-split', undefined, 'both'],
    ['POST', '/latest/secrets/db-split', { payload: 'split-value-1' }, 'admin'],
    ['POST', '/latest/rotate/db-split', {}, 'admin'],
    ['POST', '/latest/restore/db-split/1', undefined, 'admin'],
    ['POST', '/latest/revoke/db-split/3', undefined, 'admin'],
    ['DELETE', '/latest/secrets/db-split?confirm=db-split', undefined, 'admin'],
  ];
  before(async () => {
    await call(base(), 'POST', '/latest/secrets/db-split', { token: tokens.admin, body: { payload: secret('split') } });
  });
  for (const [method, path, body, who] of routes) {
    test(`${method} ${path}: ${who}`, async () => {
      const wrong = who === 'admin' ? tokens.reader : who === 'reader' ? tokens.admin : undefined;
      if (wrong) {
        const denied = await call(base(), method, path, { token: wrong, body });
        assert.equal(denied.status, 403, denied.text);
        assert.match(String(denied.body.Message), /has role (admin|reader); \w+ needs role/);
      }
      const right = who === 'admin' ? tokens.admin : tokens.reader;
      const allowed = await call(base(), method, path, { token: right, body });
      assert.equal(allowed.status, 200, allowed.text);
      if (path.includes('/secrets/db-split') && method === 'GET') api.remember(String(allowed.body.payload));
    });
  }
  test('name patterns: a db-* reader may not touch api-key', async () => {
    const reply = await call(base(), 'GET', '/latest/secrets/api-key', { token: tokens.web });
    assert.equal(reply.status, 403);
    assert.match(String(reply.body.Message), /token "web" may not touch secret "api-key" \(its names: db-\*\)/);
  });
  test('applications are separate namespaces', async () => {
    const reply = await call(base(), 'GET', '/v1/history/db-main', { token: tokens.otherApp });
    assert.equal(reply.status, 404);
    assert.match(String(reply.body.Message), /in application "other-app"/);
  });
});

test('one keep-alive connection: each request is judged by its own token (a wrong one of the same length, another role, the first again)', async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const ports = new Set<number>();
  const get = (token: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${base()}/latest/secrets/db-conn`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        ports.add(res.socket.localPort as number);
        res.resume();
        res.on('end', () => resolve(res.statusCode as number));
      });
      req.on('error', reject);
      req.end();
    });
  await call(base(), 'POST', '/latest/secrets/db-conn', { token: tokens.admin, body: { payload: secret('value-of-conn') } });
  try {
    const sameLength = randomToken().slice(0, tokens.reader.length).padEnd(tokens.reader.length, 'x');
    assert.equal(await get(tokens.reader), 200);
    assert.equal(await get(sameLength), 401, 'a wrong token after a good one on the same connection');
    assert.equal(await get(tokens.reader), 200);
    assert.equal(await get(tokens.admin), 403, 'the admin token acts as admin, not as the reader before it');
    assert.equal(await get(tokens.web), 200, 'the db-* reader may read db-conn');
    assert.equal(await get(`${tokens.reader.slice(0, -1)}!`), 401);
    assert.equal(ports.size, 1, 'every request went over the one connection');
  } finally {
    agent.destroy();
  }
});

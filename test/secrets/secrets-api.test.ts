/**
 * The secrets API through a real daemon: ecs-secrets' routes under /latest/ and /v1/, every
 * error status with its message, the admin/reader split on every route, the cache, audit lines,
 * and no payload or token in any log line.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { call } from './api-client.js';

const tokens = { admin: randomToken(), reader: randomToken(), web: randomToken(), otherApp: randomToken() };
const payloads: string[] = [];
const secret = (label: string) => {
  const value = `${label}-${randomToken(12)}`;
  payloads.push(value);
  return value;
};

const CONFIG = `
admin:
  listen: 127.0.0.1:0
secrets:
  listen: 127.0.0.1:0
  store: { type: sqlite, path: ./data/secrets.db }
  keyring: { type: local, key_file: ./data/master.key }
  cache_ttl_seconds: 30
  tokens:
    - { id: deployer, token: "\${fromFile:admin.token}", role: admin, application: cryptex }
    - { id: reader-all, token: "\${fromFile:reader.token}", role: reader, application: cryptex }
    - { id: web, token: "\${fromFile:web.token}", role: reader, application: cryptex, names: ["db-*"] }
    - { id: other-admin, token: "\${fromFile:other.token}", role: admin, application: other-app }
`;

let daemon: RunningDaemon;
let base: string;

before(async () => {
  daemon = await startDaemon(CONFIG, {
    files: { 'admin.token': tokens.admin, 'reader.token': tokens.reader, 'web.token': tokens.web, 'other.token': tokens.otherApp },
  });
  base = daemon.url('secrets');
});
after(async () => {
  assertNoSecrets(daemon.lines, [...Object.values(tokens), ...payloads]);
  await daemon.stop();
});

for (const prefix of ['/latest', '/v1']) {
  test(`ecs-secrets routes under ${prefix}: create, fetch, revoke, fall back`, async () => {
    const name = `db-${prefix.slice(1)}`;
    const first = secret('first');
    const second = secret('second');
    const created = await call(base, 'POST', `${prefix}/secrets/${name}`, { token: tokens.admin, body: { payload: first } });
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.body, { name, serial: 1, active: true });
    await call(base, 'POST', `${prefix}/secrets/${name}`, { token: tokens.admin, body: { payload: second } });
    const latest = await call(base, 'GET', `${prefix}/secrets/${name}`, { token: tokens.reader });
    assert.deepEqual(latest.body, { name, serial: 2, payload: second, active: true });
    assert.equal(latest.headers['cache-control'], 'no-store');
    assert.equal((await call(base, 'GET', `${prefix}/secrets/${name}/1`, { token: tokens.web })).body.payload, first);
    const revoked = await call(base, 'POST', `${prefix}/revoke/${name}/2`, { token: tokens.admin });
    assert.deepEqual(revoked.body, { name, serial: 2, active: false });
    const gone = await call(base, 'GET', `${prefix}/secrets/${name}/2`, { token: tokens.reader });
    assert.equal(gone.status, 410);
    assert.deepEqual(
      { ...gone.body, Message: undefined },
      { Code: 'SK_SECRET_REVOKED', Message: undefined, name, serial: 2, payload: '', active: false },
    );
    assert.equal((await call(base, 'GET', `${prefix}/secrets/${name}`, { token: tokens.reader })).body.serial, 1);
  });
}

test('list, history, restore, rotate and delete', async () => {
  for (const n of ['db-main', 'api-key'])
    await call(base, 'POST', `/latest/secrets/${n}`, { token: tokens.admin, body: { payload: secret(n) } });
  const all = await call(base, 'GET', '/latest/secrets', { token: tokens.reader });
  assert.deepEqual(all.body, { application: 'cryptex', names: ['api-key', 'db-latest', 'db-main', 'db-v1'] });
  const some = await call(base, 'GET', '/latest/secrets', { token: tokens.web });
  assert.deepEqual(some.body.names, ['db-latest', 'db-main', 'db-v1']);
  const other = await call(base, 'GET', '/latest/secrets', { token: tokens.otherApp });
  assert.deepEqual(other.body, { application: 'other-app', names: [] });

  const history = await call(base, 'GET', '/v1/history/db-latest', { token: tokens.admin });
  const versions = history.body.versions as Record<string, unknown>[];
  assert.deepEqual(
    versions.map((v) => [v.serial, v.active, v.created_by, v.revoked_by]),
    [
      [2, false, 'deployer', 'deployer'],
      [1, true, 'deployer', undefined],
    ],
  );
  assert.ok(!history.text.includes('payload'), 'history carries metadata only');

  const restored = await call(base, 'POST', '/latest/restore/db-latest/1', { token: tokens.admin });
  assert.deepEqual(restored.body, { name: 'db-latest', serial: 3, active: true, restored_from: 1 });
  const rotated = await call(base, 'POST', '/latest/rotate/db-main', { token: tokens.admin, body: { length: 24, alphabet: 'hex' } });
  assert.equal(rotated.body.serial, 2);
  const fetched = await call(base, 'GET', '/latest/secrets/db-main', { token: tokens.reader });
  assert.match(String(fetched.body.payload), /^[0-9a-f]{24}$/);
  payloads.push(String(fetched.body.payload));

  assert.equal((await call(base, 'DELETE', '/latest/secrets/api-key', { token: tokens.admin })).status, 400);
  const deleted = await call(base, 'DELETE', '/latest/secrets/api-key?confirm=api-key', { token: tokens.admin });
  assert.deepEqual(deleted.body, { name: 'api-key', deleted: 1 });
  assert.equal((await call(base, 'GET', '/latest/secrets/api-key', { token: tokens.reader })).status, 404);
});

test('a local write invalidates the cache at once', async () => {
  await call(base, 'POST', '/latest/secrets/db-cached', { token: tokens.admin, body: { payload: secret('c1') } });
  const one = await call(base, 'GET', '/latest/secrets/db-cached', { token: tokens.reader });
  assert.equal(one.body.serial, 1);
  const next = secret('c2');
  await call(base, 'POST', '/latest/secrets/db-cached', { token: tokens.admin, body: { payload: next } });
  assert.deepEqual((await call(base, 'GET', '/latest/secrets/db-cached', { token: tokens.reader })).body, {
    name: 'db-cached',
    serial: 2,
    payload: next,
    active: true,
  });
  await call(base, 'POST', '/latest/revoke/db-cached/2', { token: tokens.admin });
  assert.equal((await call(base, 'GET', '/latest/secrets/db-cached', { token: tokens.reader })).body.serial, 1);
  assert.equal((await call(base, 'GET', '/latest/secrets/db-cached/2', { token: tokens.reader })).status, 410);
});

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
    ['uppercase name', 'GET', '/latest/secrets/DB-X', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /must be lowercase/],
    ['name with dot dot', 'GET', '/latest/secrets/a..b', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /path traversal/],
    ['encoded slash', 'GET', '/latest/secrets/a%2Fb', { token: tokens.reader }, 400, 'SK_NAME_INVALID', /path traversal/],
    ['long name', 'GET', `/latest/secrets/${'a'.repeat(64)}`, { token: tokens.reader }, 400, 'SK_NAME_INVALID', /at most 63/],
    [
      'trailing hyphen',
      'POST',
      '/latest/secrets/db-',
      { token: tokens.admin, body: { payload: 'x' } },
      400,
      'SK_NAME_INVALID',
      /start and end/,
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
      const reply = await call(base, method, path, options);
      assert.equal(reply.status, status, reply.text);
      assert.equal(reply.body.Code, code, reply.text);
      assert.match(String(reply.body.Message), message);
      if (status === 401) assert.equal(reply.headers['www-authenticate'], 'Bearer realm="sidekey-secrets"');
      if (status === 405) assert.equal(reply.headers.allow, 'GET, POST, DELETE');
    });
  }

  test('check-and-set conflict: 409 naming both serials', async () => {
    await call(base, 'POST', '/latest/secrets/db-cas', { token: tokens.admin, body: { payload: secret('cas'), expected_serial: 0 } });
    const reply = await call(base, 'POST', '/latest/secrets/db-cas', {
      token: tokens.admin,
      body: { payload: secret('cas'), expected_serial: 0 },
    });
    assert.equal(reply.status, 409);
    assert.match(String(reply.body.Message), /expected current serial 0, it is 1/);
  });

  test('a tampered row: 500 that says nothing internal, the log says what happened', async () => {
    await call(base, 'POST', '/latest/secrets/db-tampered', { token: tokens.admin, body: { payload: secret('t') } });
    const db = new Database(`${daemon.dir}/data/secrets.db`);
    db.prepare("UPDATE secret_versions SET name = 'db-tampered', serial = 2 WHERE name = 'db-main' AND serial = 1").run();
    db.close();
    const reply = await call(base, 'GET', '/latest/secrets/db-tampered/2', { token: tokens.reader });
    assert.equal(reply.status, 500);
    assert.deepEqual(reply.body, { Code: 'SK_INTERNAL', Message: 'internal error; the daemon log has the details' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(
      daemon.lines.some((l) => l.includes('cryptex/db-tampered#2 failed its integrity check')),
      daemon.lines.filter((l) => l.includes('tamper')).join('\n'),
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
    await call(base, 'POST', '/latest/secrets/db-split', { token: tokens.admin, body: { payload: secret('split') } });
  });
  for (const [method, path, body, who] of routes) {
    test(`${method} ${path}: ${who}`, async () => {
      const wrong = who === 'admin' ? tokens.reader : who === 'reader' ? tokens.admin : undefined;
      if (wrong) {
        const denied = await call(base, method, path, { token: wrong, body });
        assert.equal(denied.status, 403, denied.text);
        assert.match(String(denied.body.Message), /has role (admin|reader); \w+ needs role/);
      }
      const right = who === 'admin' ? tokens.admin : tokens.reader;
      const allowed = await call(base, method, path, { token: right, body });
      assert.equal(allowed.status, 200, allowed.text);
      if (path.includes('/secrets/db-split') && method === 'GET') payloads.push(String(allowed.body.payload));
    });
  }
  test('name patterns: a db-* reader may not touch api-key', async () => {
    const reply = await call(base, 'GET', '/latest/secrets/api-key', { token: tokens.web });
    assert.equal(reply.status, 403);
    assert.match(String(reply.body.Message), /token "web" may not touch secret "api-key" \(its names: db-\*\)/);
  });
  test('applications are separate namespaces', async () => {
    const reply = await call(base, 'GET', '/v1/history/db-main', { token: tokens.otherApp });
    assert.equal(reply.status, 404);
    assert.match(String(reply.body.Message), /in application "other-app"/);
  });
});

test('audit lines name token, app, name, serial and outcome; metrics count requests', async () => {
  const audits = daemon.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'secrets.fetch');
  const ok = audits.find((e) => e.outcome === 'ok' && e.name === 'db-latest');
  assert.ok(ok, 'a fetch audit line');
  assert.equal(ok.actor !== undefined, true);
  assert.deepEqual(
    Object.keys(ok)
      .filter((k) => ['actor', 'app', 'name', 'serial', 'outcome'].includes(k))
      .sort(),
    ['actor', 'app', 'name', 'outcome', 'serial'],
  );
  assert.ok(audits.some((e) => e.outcome === 'SK_SECRET_REVOKED'));
  assert.ok(daemon.lines.some((l) => l.includes('"audit":"secrets.auth"') && l.includes('SK_UNAUTHORIZED')));
  for (let i = 0; i < 2; i++) await call(base, 'GET', '/latest/secrets/db-main/2', { token: tokens.reader });
  const metrics = await fetch(`${daemon.url('admin')}/metrics`).then((r) => r.text());
  assert.match(metrics, /sidekey_secrets_requests_total\{operation="fetch",status="200"\} \d+/);
  assert.match(metrics, /sidekey_secrets_cache_total\{result="hit"\} \d+/);
});

/**
 * The secrets API through a real daemon: ecs-secrets' routes under /latest/ and /v1/, list,
 * history, restore, rotate, delete, the cache, audit lines and metrics; no payload or token in any
 * log line (checked when the daemon stops).
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { startDaemon } from '../helpers/daemon-harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { call } from './api-client.js';
import { API_CONFIG, type ApiFixture, apiForFile } from './api-fixture.js';

let api: ApiFixture;
/** Made before the tests are declared: the case tables refer to them. */
const { tokens } = apiForFile(async (started) => {
  api = started;
});
const base = () => api.base;
const secret = (label: string) => api.secret(label);

for (const prefix of ['/latest', '/v1']) {
  test(`ecs-secrets routes under ${prefix}: create, fetch, revoke, fall back`, async () => {
    const name = `db-${prefix.slice(1)}`;
    const first = secret('first');
    const second = secret('second');
    const created = await call(base(), 'POST', `${prefix}/secrets/${name}`, { token: tokens.admin, body: { payload: first } });
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.body, { name, serial: 1, active: true });
    await call(base(), 'POST', `${prefix}/secrets/${name}`, { token: tokens.admin, body: { payload: second } });
    const latest = await call(base(), 'GET', `${prefix}/secrets/${name}`, { token: tokens.reader });
    assert.deepEqual(latest.body, { name, serial: 2, payload: second, active: true });
    assert.equal(latest.headers['cache-control'], 'no-store');
    assert.equal((await call(base(), 'GET', `${prefix}/secrets/${name}/1`, { token: tokens.web })).body.payload, first);
    const revoked = await call(base(), 'POST', `${prefix}/revoke/${name}/2`, { token: tokens.admin });
    assert.deepEqual(revoked.body, { name, serial: 2, active: false });
    const gone = await call(base(), 'GET', `${prefix}/secrets/${name}/2`, { token: tokens.reader });
    assert.equal(gone.status, 410);
    assert.deepEqual(
      { ...gone.body, Message: undefined },
      { Code: 'SK_SECRET_REVOKED', Message: undefined, name, serial: 2, payload: '', active: false },
    );
    assert.equal((await call(base(), 'GET', `${prefix}/secrets/${name}`, { token: tokens.reader })).body.serial, 1);
  });
}

test('list, history, restore, rotate and delete', async () => {
  for (const n of ['db-main', 'api-key'])
    await call(base(), 'POST', `/latest/secrets/${n}`, { token: tokens.admin, body: { payload: secret(n) } });
  const all = await call(base(), 'GET', '/latest/secrets', { token: tokens.reader });
  assert.deepEqual(all.body, { application: 'cryptex', names: ['api-key', 'db-latest', 'db-main', 'db-v1'] });
  const some = await call(base(), 'GET', '/latest/secrets', { token: tokens.web });
  assert.deepEqual(some.body.names, ['db-latest', 'db-main', 'db-v1']);
  const other = await call(base(), 'GET', '/latest/secrets', { token: tokens.otherApp });
  assert.deepEqual(other.body, { application: 'other-app', names: [] });

  const history = await call(base(), 'GET', '/v1/history/db-latest', { token: tokens.admin });
  const versions = history.body.versions as Record<string, unknown>[];
  assert.deepEqual(
    versions.map((v) => [v.serial, v.active, v.created_by, v.revoked_by]),
    [
      [2, false, 'deployer', 'deployer'],
      [1, true, 'deployer', undefined],
    ],
  );
  assert.ok(!history.text.includes('payload'), 'history carries metadata only');

  const restored = await call(base(), 'POST', '/latest/restore/db-latest/1', { token: tokens.admin });
  assert.deepEqual(restored.body, { name: 'db-latest', serial: 3, active: true, restored_from: 1 });
  const rotated = await call(base(), 'POST', '/latest/rotate/db-main', { token: tokens.admin, body: { length: 24, alphabet: 'hex' } });
  assert.equal(rotated.body.serial, 2);
  const fetched = await call(base(), 'GET', '/latest/secrets/db-main', { token: tokens.reader });
  assert.match(String(fetched.body.payload), /^[0-9a-f]{24}$/);
  api.remember(String(fetched.body.payload));

  assert.equal((await call(base(), 'DELETE', '/latest/secrets/api-key', { token: tokens.admin })).status, 400);
  const deleted = await call(base(), 'DELETE', '/latest/secrets/api-key?confirm=api-key', { token: tokens.admin });
  assert.deepEqual(deleted.body, { name: 'api-key', deleted: 1 });
  assert.equal((await call(base(), 'GET', '/latest/secrets/api-key', { token: tokens.reader })).status, 404);
});

test('a local write invalidates the cache at once', async () => {
  await call(base(), 'POST', '/latest/secrets/db-cached', { token: tokens.admin, body: { payload: secret('c1') } });
  const one = await call(base(), 'GET', '/latest/secrets/db-cached', { token: tokens.reader });
  assert.equal(one.body.serial, 1);
  const next = secret('c2');
  await call(base(), 'POST', '/latest/secrets/db-cached', { token: tokens.admin, body: { payload: next } });
  assert.deepEqual((await call(base(), 'GET', '/latest/secrets/db-cached', { token: tokens.reader })).body, {
    name: 'db-cached',
    serial: 2,
    payload: next,
    active: true,
  });
  // Cache hits (answered from the cached value, its JSON built once) send the same bytes and are each audited.
  const fetchOk = () =>
    api.daemon.lines.filter(
      (l) => l.includes('"audit":"secrets.fetch"') && l.includes('"name":"db-cached"') && l.includes('"outcome":"ok"'),
    ).length;
  const raw = async () => {
    const res = await fetch(`${base()}/latest/secrets/db-cached`, { headers: { authorization: `Bearer ${tokens.reader}` } });
    return { text: await res.text(), length: res.headers.get('content-length'), type: res.headers.get('content-type') };
  };
  const before = fetchOk();
  const first = await raw();
  const again = await raw();
  assert.deepEqual(again, first);
  assert.equal(first.length, String(Buffer.byteLength(first.text)));
  assert.deepEqual(JSON.parse(first.text), { name: 'db-cached', serial: 2, payload: next, active: true });
  assert.equal(fetchOk(), before + 2, 'one audit line per cache hit');
  // A hit's line (its caller's fields bound once) reads as the store read's line before it.
  const okLines = api.daemon.lines
    .filter((l) => l.includes('"audit":"secrets.fetch"') && l.includes('"name":"db-cached"') && l.includes('"outcome":"ok"'))
    .map((l) => {
      const { time: _time, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
  const [storeRead, , hit] = okLines.slice(-3);
  assert.deepEqual(Object.entries(hit ?? {}), Object.entries(storeRead ?? {}));
  assert.equal(hit?.actor, 'reader-all');
  assert.equal(hit?.app, 'cryptex');
  assert.equal(hit?.serial, 2);
  await call(base(), 'POST', '/latest/revoke/db-cached/2', { token: tokens.admin });
  assert.equal((await call(base(), 'GET', '/latest/secrets/db-cached', { token: tokens.reader })).body.serial, 1);
  assert.equal((await call(base(), 'GET', '/latest/secrets/db-cached/2', { token: tokens.reader })).status, 410);
});

test('audit lines name token, app, name, serial and outcome; metrics count requests', async () => {
  assert.equal((await call(base(), 'GET', '/latest/secrets/db-main')).status, 401);
  const audits = api.daemon.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.audit === 'secrets.fetch');
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
  assert.ok(api.daemon.lines.some((l) => l.includes('"audit":"secrets.auth"') && l.includes('SK_UNAUTHORIZED')));
  for (let i = 0; i < 2; i++) await call(base(), 'GET', '/latest/secrets/db-main/2', { token: tokens.reader });
  const metrics = await fetch(`${api.daemon.url('admin')}/metrics`).then((r) => r.text());
  assert.match(metrics, /sidekey_secrets_requests_total\{operation="fetch",status="200"\} \d+/);
  assert.match(metrics, /sidekey_secrets_cache_total\{result="hit"\} \d+/);
});

test('SIGHUP reload: a new token works at once, a removed one is refused', async () => {
  const fresh = randomToken();
  api.remember(fresh);
  writeFileSync(join(api.daemon.dir, 'web2.token'), fresh, { mode: 0o600 });
  const next = API_CONFIG.replace('fromFile:web.token}', 'fromFile:web2.token}');
  assert.equal(await api.daemon.reload(next), true);
  assert.equal((await call(base(), 'GET', '/latest/secrets/db-main', { token: tokens.web })).status, 401);
  assert.equal((await call(base(), 'GET', '/latest/secrets/db-main', { token: fresh })).status, 200);
});

test('the daemon refuses to start when the master key file is readable by others', async () => {
  const dir = tempDir();
  const keyFile = join(dir.path, 'master.key');
  writeFileSync(keyFile, `k1:${Buffer.alloc(32, 3).toString('base64')}\n`);
  chmodSync(keyFile, 0o644);
  const config = `admin: { listen: 127.0.0.1:0 }\nsecrets:\n  listen: 127.0.0.1:0\n  store: { type: sqlite, path: ${dir.path}/s.db }\n  keyring: { type: local, key_file: ${keyFile} }\n`;
  await assert.rejects(startDaemon(config), new RegExp(`master key file ${keyFile} has mode 0644: group and others must have no access`));
  dir.remove();
});

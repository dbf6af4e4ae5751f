/** Unit tests for the small parts of the secrets store: cache, generator, routes, config section. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/core/config/load-config.js';
import { nameMatches } from '../../src/core/secrets/name-pattern.js';
import { ALPHABETS, generatePayload } from '../../src/core/secrets/payload-generator.js';
import { SecretCache } from '../../src/core/secrets/secret-cache.js';
import { parseSerial } from '../../src/core/secrets/secret-errors.js';
import { matchRoute } from '../../src/secrets-api/secrets-routes.js';

test('cache: expires after the TTL, invalidates a whole name, evicts the oldest', () => {
  let now = 0;
  const cache = new SecretCache(30, { maxEntries: 2, now: () => now });
  const v = (serial: number) => ({ name: 'db', serial, payload: `p${serial}`, active: true as const });
  cache.set('app', 'db', undefined, v(2), cache.epoch);
  cache.set('app', 'db', 1, v(1), cache.epoch);
  assert.equal(cache.get('app', 'db', undefined)?.serial, 2);
  cache.invalidate('app', 'db');
  assert.equal(cache.get('app', 'db', undefined), undefined);
  assert.equal(cache.get('app', 'db', 1), undefined);
  cache.set('app', 'a', undefined, v(1), cache.epoch);
  cache.set('app', 'b', undefined, v(1), cache.epoch);
  cache.set('app', 'c', undefined, v(1), cache.epoch);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('app', 'a', undefined), undefined, 'the oldest went first');
  now = 30_000;
  assert.equal(cache.get('app', 'c', undefined), undefined, 'expired');
  assert.equal(new SecretCache(0).enabled, false);
});

test('cache: the entry filled longest ago goes first, across applications and names; size counts what is held', () => {
  let now = 0;
  const cache = new SecretCache(30, { maxEntries: 3, now: () => now });
  const v = (serial: number) => ({ name: 'x', serial, payload: `p${serial}`, active: true as const });
  cache.set('app1', 'a', undefined, v(1), cache.epoch);
  cache.set('app2', 'b', undefined, v(1), cache.epoch);
  cache.set('app1', 'c', 7, v(7), cache.epoch);
  // Refilling app1/a makes app2/b the oldest, though app1 was seen first.
  cache.set('app1', 'a', undefined, v(2), cache.epoch);
  assert.equal(cache.size, 3);
  cache.set('app3', 'd', undefined, v(1), cache.epoch);
  assert.equal(cache.get('app2', 'b', undefined), undefined, 'the oldest fill went');
  assert.equal(cache.get('app1', 'a', undefined)?.serial, 2);
  assert.equal(cache.get('app1', 'c', 7)?.serial, 7);
  assert.equal(cache.size, 3);
  cache.invalidate('app1', 'c');
  assert.equal(cache.size, 2);
  now = 30_000;
  assert.equal(cache.get('app1', 'a', undefined), undefined, 'expired');
  assert.equal(cache.size, 1, 'an expired entry is no longer held');
  cache.clear();
  assert.equal(cache.size, 0);
});

test('cache: a fill that began before an invalidation is dropped', () => {
  const cache = new SecretCache(30);
  const before = cache.epoch;
  cache.invalidate('app', 'db');
  cache.set('app', 'db', undefined, { name: 'db', serial: 1, payload: 'revoked', active: true }, before);
  assert.equal(cache.get('app', 'db', undefined), undefined);
});

test('generator: length and alphabet honoured, every character possible, bounds enforced', () => {
  assert.match(generatePayload({ length: 64, alphabet: 'hex' }), /^[0-9a-f]{64}$/);
  assert.match(generatePayload({ length: 10, alphabet: 'chars:ab' }), /^[ab]{10}$/);
  const seen = new Set(generatePayload({ length: 4096, alphabet: 'alnum' }));
  assert.equal(seen.size, ALPHABETS.alnum.length);
  assert.throws(() => generatePayload({ length: 7 }), /from 8 to 4096/);
  assert.throws(() => generatePayload({ alphabet: 'chars:a' }), /2 to 256 distinct/);
});

test('serials: positive integers only', () => {
  assert.equal(parseSerial('42'), 42);
  for (const bad of ['0', '-1', '01', '1.5', '1e3', '', ' 1', '9007199254740993'])
    assert.throws(() => parseSerial(bad), /invalid serial/, bad);
});

test('routes: both prefixes, methods, and what is not a route', () => {
  assert.deepEqual(matchRoute('GET', '/latest/secrets/db'), { operation: 'fetch', name: 'db', serial: undefined });
  assert.deepEqual(matchRoute('GET', '/v1/secrets/db/3'), { operation: 'fetch', name: 'db', serial: '3' });
  assert.deepEqual(matchRoute('POST', '/v1/revoke/db/3'), { operation: 'revoke', name: 'db', serial: '3' });
  assert.deepEqual(matchRoute('GET', '/latest/secrets/'), { operation: 'list', name: undefined, serial: undefined });
  assert.throws(() => matchRoute('GET', '/latest/secrets/db/3/4'), /no route/);
  assert.throws(() => matchRoute('GET', '/latest//db'), /no route/);
  assert.throws(() => matchRoute('PATCH', '/latest/revoke/db/1'), /allowed: POST/);
});

test('name patterns: *, prefix*, exact', () => {
  assert.ok(nameMatches('*', 'anything'));
  assert.ok(nameMatches('db-*', 'db-main'));
  assert.ok(!nameMatches('db-*', 'dbx'));
  assert.ok(nameMatches('api', 'api'));
  assert.ok(!nameMatches('api', 'api-2'));
});

test('config: default paths resolve against the config file, and key sources are exclusive', () => {
  const loaded = parseConfig('secrets: {}\n', '/etc/sidekey/sidekey.yaml');
  assert.deepEqual(loaded.config.secrets?.store, { type: 'sqlite', path: '/etc/sidekey/data/secrets.db' });
  assert.deepEqual(loaded.config.secrets?.keyring, { type: 'local', key_file: '/etc/sidekey/data/master.key' });
  assert.deepEqual(loaded.config.secrets?.listen, { kind: 'tcp', host: '127.0.0.1', port: 8080 });
  assert.throws(
    () => parseConfig('secrets:\n  keyring: { type: local, key_file: ./k, keys: "x" }\n', '/etc/sidekey/sidekey.yaml'),
    /cannot specify key_file and keys together/,
  );
  assert.throws(() => parseConfig('secrets:\n  store: { type: sqlte }\n', '/etc/s.yaml'), /did you mean "sqlite"/);
  const token = 'x'.repeat(40);
  assert.throws(
    () =>
      parseConfig(
        `secrets:\n  tokens:\n    - { id: a, token: ${token}, role: admin }\n    - { id: a, token: ${token}y, role: reader }\n`,
        '/etc/s.yaml',
      ),
    /duplicate token id "a"/,
  );
});

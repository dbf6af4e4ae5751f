/**
 * Both stores (SQLite; DynamoDB through dynalite) with both keyrings (local; KMS through the test
 * peer): round trips, concurrent writers, revoke, integrity, check-and-set, restore, rotate,
 * delete and rewrap, all through the real SDK and real sockets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isSidekeyError } from '../../src/core/errors.js';
import { decodeWrappedKey } from '../../src/core/secrets/key-envelope.js';
import { KmsKeyring } from '../../src/core/secrets/kms-keyring.js';
import type { LocalKeyring } from '../../src/core/secrets/local-keyring.js';
import { addMasterKey } from '../../src/core/secrets/master-key-file.js';
import { SecretService } from '../../src/core/secrets/secret-service.js';
import type { VersionRow } from '../../src/core/secrets/secret-store.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type Backends, type KeyringKind, KMS_ALIAS, makeKeyring, makeStore, REGION, type StoreKind, startBackends } from './backends.js';

const APP = 'cryptex';
const ACTOR = 'test';
let backends: Backends;
const dir = tempDir('sidekey-secrets-matrix-');

before(async () => {
  backends = await startBackends();
});
after(async () => {
  await backends.close();
  dir.remove();
});

const expectError = (kind: string, pattern?: RegExp) => (error: unknown) => {
  assert.ok(isSidekeyError(error), `expected a SidekeyError, got ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  if (pattern) assert.match(error.message, pattern);
  return true;
};

const combos: [StoreKind, KeyringKind][] = [
  ['sqlite', 'local'],
  ['sqlite', 'kms'],
  ['dynamodb', 'local'],
  ['dynamodb', 'kms'],
];

for (const [storeKind, keyringKind] of combos) {
  describe(`${storeKind} store with ${keyringKind} keyring`, () => {
    const where = `${dir.path}/${storeKind}-${keyringKind}`;
    let service: SecretService;
    const open = () => new SecretService({ store: makeStore(storeKind, where), keyring: makeKeyring(keyringKind, backends, where) });

    before(async () => {
      service = open();
      await service.store.setup();
      await service.keyring.setup();
    });
    after(() => service.close());

    test('round trip: create, fetch latest and by serial, list, history', async () => {
      const first = await service.create(APP, 'dbpassword', 'hunter2-first', { actor: ACTOR });
      const second = await service.create(APP, 'dbpassword', 'hunter2-second ✓', { actor: ACTOR });
      assert.deepEqual([first.serial, second.serial], [1, 2]);
      assert.deepEqual(await service.fetch(APP, 'dbpassword', undefined, ACTOR), {
        name: 'dbpassword',
        serial: 2,
        payload: 'hunter2-second ✓',
        active: true,
      });
      assert.equal((await service.fetch(APP, 'dbpassword', 1, ACTOR)).payload, 'hunter2-first');
      assert.deepEqual((await service.list(APP, ACTOR)).names, ['dbpassword']);
      assert.deepEqual((await service.list('other-app', ACTOR)).names, []);
      await assert.rejects(service.fetch('other-app', 'dbpassword', undefined, ACTOR), expectError('SECRET_NOT_FOUND'));
      const history = await service.history(APP, 'dbpassword', ACTOR);
      assert.deepEqual(
        history.versions.map((v) => [v.serial, v.active, v.createdBy]),
        [
          [2, true, ACTOR],
          [1, true, ACTOR],
        ],
      );
      if (keyringKind === 'kms') {
        const generate = backends.kms.calls.filter((c) => c.operation === 'GenerateDataKey').at(-1);
        assert.deepEqual(generate?.context, { app: APP, name: 'dbpassword', serial: '2' });
      }
    });

    test('20 concurrent writers (separate clients) get distinct serials and lose nothing', async () => {
      const writers = Array.from({ length: 20 }, () => open());
      const results = await Promise.all(writers.map((w, i) => w.create(APP, 'contended', `value-${i}`, { actor: `writer-${i}` })));
      const serials = results.map((r) => r.serial).sort((a, b) => a - b);
      assert.deepEqual(
        serials,
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const seen = new Set<string>();
      for (const r of results) seen.add((await service.fetch(APP, 'contended', r.serial, ACTOR)).payload);
      assert.equal(seen.size, 20);
      await Promise.all(writers.map((w) => w.close()));
    });

    test('revoke falls back to the latest active version and leaves nothing decryptable', async () => {
      for (const v of ['r1', 'r2', 'r3']) await service.create(APP, 'api-key', `payload-${v}`, { actor: ACTOR });
      const before = (await service.store.get(APP, 'api-key', 3)) as VersionRow;
      assert.ok(before.data && before.dataKey);
      assert.deepEqual(await service.revoke(APP, 'api-key', 3, 'admin-1'), { name: 'api-key', serial: 3, active: false });
      const after = (await service.store.get(APP, 'api-key', 3)) as VersionRow;
      assert.equal(after.active, false);
      assert.equal(after.data, null, 'the ciphertext is destroyed');
      assert.equal(after.dataKey, null, 'the wrapped data key is destroyed');
      assert.equal(after.revokedBy, 'admin-1');
      assert.equal((await service.fetch(APP, 'api-key', undefined, ACTOR)).serial, 2);
      await assert.rejects(service.fetch(APP, 'api-key', 3, ACTOR), expectError('SECRET_REVOKED', /serial 3 .* is revoked/));
      await service.revoke(APP, 'api-key', 3, 'admin-1'); // idempotent
      await service.revoke(APP, 'api-key', 2, ACTOR);
      await service.revoke(APP, 'api-key', 1, ACTOR);
      await assert.rejects(service.fetch(APP, 'api-key', undefined, ACTOR), expectError('SECRET_REVOKED', /every version .* is revoked/));
      await assert.rejects(service.revoke(APP, 'api-key', 9, ACTOR), expectError('SECRET_NOT_FOUND'));
      await assert.rejects(service.restore(APP, 'api-key', 2, { actor: ACTOR }), expectError('SECRET_REVOKED'));
    });

    test('a row moved to another name or serial, or with a flipped bit, is refused', async () => {
      await service.create(APP, 'signing-key', 'the-original-value', { actor: ACTOR });
      const row = (await service.store.get(APP, 'signing-key', 1)) as VersionRow;
      const data = row.data as Buffer;
      const dataKey = row.dataKey as Buffer;
      const flip = (b: Buffer, at: number) => {
        const copy = Buffer.from(b);
        copy[at] = (copy[at] as number) ^ 0x01;
        return copy;
      };
      const variants: [string, number, Partial<VersionRow>][] = [
        ['moved-name', 1, {}],
        ['signing-key', 2, {}],
        ['flipped-data', 1, { data: flip(data, data.length - 20) }],
        ['flipped-tag', 1, { data: flip(data, data.length - 1) }],
        ['flipped-key', 1, { dataKey: flip(dataKey, dataKey.length - 3) }],
        ['flipped-header', 1, { data: flip(data, 5) }],
      ];
      for (const [name, serial, change] of variants) {
        assert.equal(await service.store.insert({ ...row, name, serial, ...change }), true);
        await assert.rejects(
          service.fetch(APP, name, serial, ACTOR),
          expectError('SECRET_INTEGRITY', new RegExp(`${APP}/${name}#${serial} failed its integrity check`)),
        );
      }
      // A whole row from another application is refused as well.
      assert.equal(await service.store.insert({ ...row, app: 'other-app' }), true);
      await assert.rejects(service.fetch('other-app', 'signing-key', 1, ACTOR), expectError('SECRET_INTEGRITY'));
    });

    test('check-and-set, restore, rotate and delete', async () => {
      await assert.rejects(
        service.create(APP, 'cas', 'x-value-1', { actor: ACTOR, expectedSerial: 3 }),
        expectError('SECRET_CONFLICT', /expected current serial 3, it is 0/),
      );
      assert.equal((await service.create(APP, 'cas', 'x-value-1', { actor: ACTOR, expectedSerial: 0 })).serial, 1);
      await assert.rejects(service.create(APP, 'cas', 'x-value-2', { actor: ACTOR, expectedSerial: 0 }), expectError('SECRET_CONFLICT'));
      assert.equal((await service.create(APP, 'cas', 'x-value-2', { actor: ACTOR, expectedSerial: 1 })).serial, 2);
      const restored = await service.restore(APP, 'cas', 1, { actor: ACTOR });
      assert.deepEqual([restored.serial, restored.restoredFrom], [3, 1]);
      assert.equal((await service.fetch(APP, 'cas', undefined, ACTOR)).payload, 'x-value-1');
      const rotated = await service.rotate(APP, 'cas', { generate: { length: 40, alphabet: 'hex' } }, { actor: ACTOR });
      assert.match((await service.fetch(APP, 'cas', rotated.serial, ACTOR)).payload, /^[0-9a-f]{40}$/);
      assert.equal((await service.delete(APP, 'cas', ACTOR)).deleted, 4);
      await assert.rejects(service.fetch(APP, 'cas', undefined, ACTOR), expectError('SECRET_NOT_FOUND'));
      await assert.rejects(service.delete(APP, 'cas', ACTOR), expectError('SECRET_NOT_FOUND'));
    });

    test('rewrap moves every data key to the newest master key; payloads still decrypt', async () => {
      await service.create(APP, 'rewrapped', 'before-rotation', { actor: ACTOR });
      let newKeyId: string;
      let rewrapping = service;
      if (keyringKind === 'kms') {
        // Decrypt names the configured key only: the key the alias named until now is listed as
        // previous_key_ids would list it, for as long as the rewrap takes.
        const before = (await service.store.get(APP, 'rewrapped', 1)) as VersionRow;
        const previous = decodeWrappedKey(before.dataKey as Buffer).keyId;
        newKeyId = backends.kms.createKey();
        backends.kms.setAlias(KMS_ALIAS, newKeyId);
        rewrapping = new SecretService({
          store: service.store,
          keyring: new KmsKeyring({
            keyId: KMS_ALIAS,
            previousKeyIds: [previous],
            region: REGION,
            credentials: async () => backends.kms.credentials,
          }),
        });
      } else {
        newKeyId = addMasterKey(`${where}/keys/master.key`);
        (service.keyring as LocalKeyring).reload();
      }
      const report = await rewrapping.rewrap(ACTOR);
      assert.ok(report.rewrapped > 0, JSON.stringify(report));
      // The rows the integrity test moved or flipped are named and left alone; the rest moved.
      assert.ok(report.failed.includes(`${APP}/moved-name#1`), JSON.stringify(report.failed));
      assert.ok(!report.failed.includes(`${APP}/rewrapped#1`));
      const row = (await service.store.get(APP, 'rewrapped', 1)) as VersionRow;
      assert.equal(decodeWrappedKey(row.dataKey as Buffer).keyId, newKeyId);
      assert.equal((await service.fetch(APP, 'rewrapped', 1, ACTOR)).payload, 'before-rotation');
      assert.equal((await rewrapping.rewrap(ACTOR)).rewrapped, 0, 'nothing left to move');
    });

    test('bad names and payloads are refused before any write', async () => {
      await assert.rejects(service.create(APP, 'Bad Name', 'v', { actor: ACTOR }), expectError('NAME_INVALID', /may contain only letters/));
      await assert.rejects(service.create(APP, 'ok', '', { actor: ACTOR }), expectError('BAD_REQUEST', /must not be empty/));
      await assert.rejects(service.create(APP, 'ok', 42, { actor: ACTOR }), expectError('BAD_REQUEST', /must be a string/));
      await assert.rejects(
        service.create(APP, 'ok', 'x'.repeat(64 * 1024 + 1), { actor: ACTOR }),
        expectError('PAYLOAD_TOO_LARGE', /65537 bytes; the limit is 65536/),
      );
      assert.equal((await service.create(APP, 'big', 'é'.repeat(32 * 1024), { actor: ACTOR })).serial, 1);
    });
  });
}

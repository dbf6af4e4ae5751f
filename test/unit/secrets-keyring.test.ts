import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encryptionContext } from '../../src/core/secrets/encryption-context.js';
import { LocalKeyring } from '../../src/core/secrets/local-keyring.js';
import { addMasterKey, loadMasterKeyFile } from '../../src/core/secrets/master-key-file.js';
import { tempDir } from '../helpers/temp-dir.js';

const ctx = encryptionContext('cryptex', 'db', 1);

test('the key file is created on first use: 0600 in a 0700 directory, one key', () => {
  const dir = tempDir();
  const file = join(dir.path, 'nested/keys/master.key');
  const keys = loadMasterKeyFile(file);
  assert.equal(keys.length, 1);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir.path, 'nested/keys')).mode & 0o777, 0o700);
  assert.deepEqual(loadMasterKeyFile(file), keys, 'the same key is read back');
  dir.remove();
});

test('a key file group or others can access is refused with the chmod to run', () => {
  const dir = tempDir();
  const file = join(dir.path, 'master.key');
  loadMasterKeyFile(file);
  for (const mode of [0o640, 0o604, 0o660]) {
    chmodSync(file, mode);
    assert.throws(
      () => loadMasterKeyFile(file),
      (e: Error) => e.message.includes(`has mode 0${mode.toString(8)}`) && e.message.includes(`chmod 600 ${file}`),
    );
  }
  dir.remove();
});

test('malformed key files are refused naming the line, never the key', () => {
  const dir = tempDir();
  const file = join(dir.path, 'master.key');
  writeFileSync(file, '# comment\nmk-1:dG9vLXNob3J0\n', { mode: 0o600 });
  assert.throws(() => loadMasterKeyFile(file), /line 2: expected ID:BASE64/);
  const good = `mk-1:${Buffer.alloc(32, 1).toString('base64')}`;
  writeFileSync(file, `${good}\n${good}\n`, { mode: 0o600 });
  assert.throws(() => loadMasterKeyFile(file), /line 2: duplicate key id mk-1/);
  dir.remove();
});

test('several keys: new data keys use the newest, old ones still unwrap, rewrap moves them', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'master.key');
  const keyring = new LocalKeyring({ keyFile: file });
  const old = await keyring.generateDataKey(ctx);
  const newId = addMasterKey(file);
  keyring.reload();
  const fresh = await keyring.generateDataKey(ctx);
  assert.equal(fresh.wrapped.keyId, newId);
  assert.notEqual(old.wrapped.keyId, newId);
  assert.deepEqual(await keyring.unwrap(old.wrapped, ctx), old.plaintext);
  const moved = await keyring.rewrap(old.wrapped, ctx);
  assert.equal(moved?.keyId, newId);
  assert.deepEqual(await keyring.unwrap(moved!, ctx), old.plaintext);
  assert.equal(await keyring.rewrap(moved!, ctx), undefined, 'already under the newest key');
  await assert.rejects(keyring.unwrap(moved!, encryptionContext('cryptex', 'db', 2)), /does not authenticate/);
  assert.equal(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('mk-')).length,
    2,
  );
  dir.remove();
});

test('keys given in the config (through fromFile substitution) work the same, and are never created', async () => {
  const keyring = new LocalKeyring({ keys: `k1:${Buffer.alloc(32, 7).toString('base64')}\n` });
  const key = await keyring.generateDataKey(ctx);
  assert.equal(key.wrapped.keyId, 'k1');
  assert.throws(() => new LocalKeyring({}), /needs keyFile or keys/);
});

/**
 * Every acknowledged write survives a kill -9: a child process writes versions as fast as it can,
 * is killed with SIGKILL mid-stream, and every version it acknowledged must then be readable.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LocalKeyring } from '../../src/core/secrets/local-keyring.js';
import { SecretService } from '../../src/core/secrets/secret-service.js';
import { SqliteStore } from '../../src/core/secrets/sqlite-store.js';
import { tempDir } from '../helpers/temp-dir.js';

/** Acknowledgements to wait for before the kill (the stream is still running then). */
const ACKS_BEFORE_KILL = 300;
const CHILD = fileURLToPath(new URL('./writer-child.js', import.meta.url));

test('a writer killed with SIGKILL loses no acknowledged version (SQLite)', async () => {
  const dir = tempDir('sidekey-durability-');
  const dbPath = `${dir.path}/secrets.db`;
  const keyFile = `${dir.path}/master.key`;
  const acked = new Map<number, string>();
  const child = spawn(process.execPath, [CHILD, dbPath, keyFile], {
    env: { ...process.env, SIDEKEY_WRITER_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve());
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [, serial, payload] = line.split(' ');
        acked.set(Number(serial), payload as string);
      }
      if (acked.size >= ACKS_BEFORE_KILL && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
  });
  assert.equal(child.signalCode, 'SIGKILL');
  assert.ok(acked.size >= ACKS_BEFORE_KILL);

  const service = new SecretService({ store: new SqliteStore(dbPath), keyring: new LocalKeyring({ keyFile }) });
  try {
    for (const [serial, payload] of acked) {
      assert.equal((await service.fetch('cryptex', 'stream', serial, 'test')).payload, payload, `serial ${serial}`);
    }
    const history = await service.history('cryptex', 'stream', 'test');
    const serials = history.versions.map((v) => v.serial).sort((a, b) => a - b);
    assert.deepEqual(
      serials,
      Array.from({ length: serials.length }, (_, i) => i + 1),
      'serials are dense: no gaps, no duplicates',
    );
  } finally {
    await service.close();
    dir.remove();
  }
});

/**
 * Where sidekey's files are and who may touch them, through the real CLI:
 * - the default master key resolved against the working directory, so the CLI run
 *   elsewhere silently made a second key and `check` inspected another file;
 * - `sidekey check` missed a token file in a world-writable directory (replaced by rename
 *   as another user) and a pre-existing 0644 secrets.db.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('sidekey-locations-');
after(() => dir.remove());

test('the default master key and store resolve against the config directory, whatever the working directory', async () => {
  const confDir = join(dir.path, 'conf');
  const elsewhere = join(dir.path, 'elsewhere');
  mkdirSync(confDir);
  mkdirSync(elsewhere);
  const config = join(confDir, 'sidekey.yaml');
  writeFileSync(config, 'secrets: {}\n');
  const created = await runCli(['secrets', 'create', '--config', config, '--name', 'db'], { cwd: elsewhere, input: 's3cret' });
  assert.equal(created.code, 0, created.stderr);
  assert.equal(existsSync(join(confDir, 'data', 'master.key')), true, 'the key is beside the config');
  assert.equal(existsSync(join(elsewhere, 'data')), false, 'nothing was made in the working directory');
  // From a third directory the same key and store are found.
  const fetched = await runCli(['secrets', 'fetch', '--config', config, '--name', 'db'], { cwd: dir.path });
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.match(fetched.stdout, /s3cret/);
  chmodSync(join(confDir, 'data', 'master.key'), 0o644);
  const check = await runCli(['check', '--config', config, '--format', 'json', '--offline'], { cwd: elsewhere });
  const findings = (JSON.parse(check.stdout) as { findings: { id: string; path: string; message: string }[] }).findings;
  const key = findings.find((f) => f.id === 'file-permissions' && f.path === 'secrets.keyring.key_file');
  assert.ok(key, check.stdout);
  assert.match(key.message, new RegExp(join(confDir, 'data', 'master.key')));
});

test('check flags a token file in a world-writable directory and a secrets.db other users can read', async () => {
  const open = join(dir.path, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const tokenFile = join(open, 'web.token');
  writeFileSync(tokenFile, randomToken(), { mode: 0o600 });
  const confDir = join(dir.path, 'conf15');
  mkdirSync(join(confDir, 'data'), { recursive: true });
  writeFileSync(join(confDir, 'data', 'secrets.db'), '', { mode: 0o644 });
  chmodSync(join(confDir, 'data', 'secrets.db'), 0o644);
  const config = join(confDir, 'sidekey.yaml');
  writeFileSync(
    config,
    `services:\n  web:\n    auth_token_file: ${tokenFile}\n    assumed_role: { RoleArn: "arn:aws:iam::123456789012:role/web" }\nsecrets: {}\n`,
  );
  const check = await runCli(['check', '--config', config, '--format', 'json', '--offline']);
  const findings = (JSON.parse(check.stdout) as { findings: { id: string; path: string; message: string }[] }).findings;
  const writable = findings.find((f) => f.id === 'file-directory-writable' && f.path === 'services.web.auth_token_file');
  assert.ok(writable, check.stdout);
  assert.match(writable.message, /every user may write to \(mode 0777\)/);
  assert.ok(
    findings.some((f) => f.id === 'file-permissions' && f.path === 'secrets.store.path'),
    check.stdout,
  );
  assert.equal(check.code, 1);
});

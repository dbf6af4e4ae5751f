/**
 * The config `npm start` runs (sidekey.yaml at the repository's root), as `npm start` runs it:
 * `sidekey init` then `sidekey serve`, the built CLI in child processes. Only its ports are moved
 * (to free ones), so the test does not collide with a daemon already running on the defaults.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { runCli, startCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { readRepoFile } from '../hygiene/example-config.js';

const dir = tempDir('sidekey-shipped-');
after(() => dir.remove());

/** The example's listeners, each moved to a free port. */
const DEFAULT_PORTS = { credentials: 1338, secrets: 8080, guard: 8169, admin: 9090 } as const;

test('the shipped sidekey.yaml: init creates its token files 0600, serve answers on every front, admin works from the config', async () => {
  let text = readRepoFile('sidekey.yaml');
  const ports: Record<string, number> = {};
  for (const [front, port] of Object.entries(DEFAULT_PORTS)) {
    ports[front] = await freePort();
    assert.ok(text.includes(`127.0.0.1:${port}`), `the example listens on 127.0.0.1:${port}`);
    text = text.replaceAll(`127.0.0.1:${port}`, `127.0.0.1:${ports[front]}`);
  }
  const file = join(dir.path, 'sidekey.yaml');
  writeFileSync(file, text);
  // No AWS credentials, no metadata service: the machine `npm start` promises to work on.
  const env = { HOME: dir.path, AWS_EC2_METADATA_DISABLED: 'true', AWS_CONFIG_FILE: join(dir.path, 'none') };

  const init = await runCli(['init', '--config', file], { env });
  assert.equal(init.code, 0, init.stderr);
  const tokenDir = join(dir.path, 'data/tokens');
  assert.deepEqual(readdirSync(tokenDir).sort(), ['admin.token', 'example-app.token', 'secrets-admin.token', 'secrets-reader.token']);
  assert.equal(statSync(tokenDir).mode & 0o777, 0o700);
  const tokens = readdirSync(tokenDir).map((name) => {
    assert.equal(statSync(join(tokenDir, name)).mode & 0o777, 0o600, name);
    return readFileSync(join(tokenDir, name), 'utf8');
  });
  const token = (name: string) => readFileSync(join(tokenDir, name), 'utf8');

  const created = await runCli(['secrets', 'create', '--config', file, '--name', 'dbpassword'], { env, input: 'hunter2-example' });
  assert.equal(created.code, 0, created.stderr);

  const daemon = await startCli(['serve', '--config', file], /sidekey started/, { env });
  try {
    const url = (front: keyof typeof DEFAULT_PORTS, path: string) => `http://127.0.0.1:${ports[front]}${path}`;
    assert.equal((await fetch(url('admin', '/health'))).status, 200);
    assert.equal((await fetch(url('credentials', '/health'))).status, 200);
    const secret = await fetch(url('secrets', '/latest/secrets/dbpassword'), {
      headers: { authorization: `Bearer ${token('secrets-reader.token')}` },
    });
    assert.equal(secret.status, 200);
    assert.equal(((await secret.json()) as { payload: string }).payload, 'hunter2-example');
    assert.equal((await fetch(url('secrets', '/latest/secrets/dbpassword'))).status, 401);
    assert.equal((await fetch(url('guard', '/latest/meta-data/iam/security-credentials/'))).status, 403);
    const refused = await fetch(url('credentials', '/v1/credentials'), { headers: { authorization: 'not-the-token' } });
    assert.equal(refused.status, 401);

    const status = await runCli(['admin', 'status', '--config', file], { env });
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual(
      (JSON.parse(status.stdout) as { services: { service: string }[] }).services.map((s) => s.service),
      ['example-app'],
    );
    for (const value of tokens) assert.ok(!daemon.output().includes(value), 'no token value in the daemon output');
  } finally {
    daemon.child.kill('SIGTERM');
    assert.equal((await daemon.exited).code, 143);
  }
});

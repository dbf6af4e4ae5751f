import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../helpers/free-port.js';
import { startCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  dir.remove();
});

async function start() {
  const port = await freePort();
  const file = join(dir.path, `sidekey-${port}.yaml`);
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${port}\nlogging:\n  level: info\n`);
  const running = await startCli(['serve', '--config', file], /sidekey started/);
  children.push(running.child);
  return { ...running, file, base: `http://127.0.0.1:${port}` };
}

async function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('serve answers health, refuses an invalid reload and keeps running, and exits 143 on SIGTERM', async () => {
  const { child, output, exited, file, base } = await start();
  assert.equal((await fetch(`${base}/health`)).status, 200);
  writeFileSync(file, 'admin:\n  listen: 127.0.0.1:1\nlogging:\n  levle: info\n');
  child.kill('SIGHUP');
  await waitFor(() => output().includes('config reload refused'));
  assert.match(output(), /logging\.levle: unknown key \(did you mean \\"level\\"\?\)/);
  assert.equal((await fetch(`${base}/health`)).status, 200, 'the old config keeps serving');
  child.kill('SIGTERM');
  const { code } = await exited;
  assert.equal(code, 143);
  assert.match(output(), /sidekey stopped/);
});

test('SIGINT drains and exits 130', async () => {
  const { child, exited } = await start();
  child.kill('SIGINT');
  assert.equal((await exited).code, 130);
});

test('a valid reload is applied', async () => {
  const { child, output, exited, file, base } = await start();
  const port = new URL(base).port;
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${port}\nmetrics:\n  prometheus:\n    enabled: false\n`);
  // admin.listen together with metrics.prometheus.enabled is fine: only host/port clash.
  child.kill('SIGHUP');
  await waitFor(() => output().includes('config reloaded'));
  assert.equal((await fetch(`${base}/metrics`)).status, 404, 'metrics turned off by the reload');
  child.kill('SIGTERM');
  assert.equal((await exited).code, 143);
});

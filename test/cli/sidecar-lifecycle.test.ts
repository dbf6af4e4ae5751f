/**
 * Sidecars that let a Job finish: `sidekey serve` as a child process, stopped the way a Kubernetes
 * Job's or an ECS one-off task's main container stops it (curl -X POST /quitquitquit when its work
 * is done), and by SIGTERM with shutdown.exit_zero_on_sigterm. Both exit 0 after draining; the
 * route is refused to the wrong method, a relayed request and, with an admin token, a wrong token.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { isLocalPeer } from '../../src/admin/quit-route.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { freePort } from '../helpers/free-port.js';
import { startCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const dir = tempDir();
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  dir.remove();
});

async function serve(extra = '') {
  const port = await freePort();
  const file = join(dir.path, `sidekey-${port}.yaml`);
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${port}\n${extra}`);
  const running = await startCli(['serve', '--config', file], /sidekey started/);
  children.push(running.child);
  return { ...running, base: `http://127.0.0.1:${port}` };
}

/** curl as a Job's main container runs it; resolves with the HTTP status and the body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '-o', '-', '-w', '\n%{http_code}', ...args]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

test("a Job's last step, curl -X POST /quitquitquit, drains the sidecar and it exits 0", async () => {
  const { base, exited, output } = await serve();
  assert.equal((await curl([`${base}/quitquitquit`])).status, 405, 'GET is refused');
  const relayed = await curl(['-X', 'POST', '-H', 'X-Forwarded-For: 10.0.0.9', `${base}/quitquitquit`]);
  assert.equal(relayed.status, 403, relayed.body);
  assert.equal((await curl([`${base}/health`])).status, 200, 'still serving');
  const quit = await curl(['-X', 'POST', `${base}/quitquitquit`]);
  assert.equal(quit.status, 200, quit.body);
  assert.equal(JSON.parse(quit.body).status, 'draining');
  assert.equal((await exited).code, 0);
  assert.match(output(), /asked to quit: draining, then exit 0/);
  assert.match(output(), /sidekey stopped/);
});

test('with admin.token, /quitquitquit needs it', async () => {
  const token = randomToken();
  const { base, exited } = await serve(`  token: "${token}"\n`);
  const without = await curl(['-X', 'POST', `${base}/quitquitquit`]);
  assert.equal(without.status, 401, without.body);
  assert.equal(JSON.parse(without.body).Code, 'SK_UNAUTHORIZED');
  assert.equal((await curl(['-X', 'POST', '-H', `Authorization: Bearer ${randomToken()}`, `${base}/quitquitquit`])).status, 401);
  assert.equal((await curl([`${base}/health`])).status, 200, 'still serving');
  assert.equal((await curl(['-X', 'POST', '-H', `Authorization: Bearer ${token}`, `${base}/quitquitquit`])).status, 200);
  assert.equal((await exited).code, 0);
});

test('shutdown.exit_zero_on_sigterm: SIGTERM drains and exits 0, not 143', async () => {
  const { child, exited } = await serve('shutdown:\n  exit_zero_on_sigterm: true\n');
  child.kill('SIGTERM');
  assert.equal((await exited).code, 0);
});

test('without a token, only callers on this machine may ask', () => {
  for (const local of ['127.0.0.1', '127.3.4.5', '::1', '::ffff:127.0.0.1', undefined])
    assert.equal(isLocalPeer(local), true, String(local));
  for (const remote of ['10.0.0.1', '::ffff:10.0.0.1', '169.254.170.2', 'fd00::1', '::ffff:7f00:1x'])
    assert.equal(isLocalPeer(remote), false, remote);
});

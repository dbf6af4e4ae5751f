import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { freePort } from '../helpers/free-port.js';
import { startCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const dir = tempDir();
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  dir.remove();
});

async function start(env?: NodeJS.ProcessEnv, extra = '') {
  const port = await freePort();
  const file = join(dir.path, `sidekey-${port}.yaml`);
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${port}\nlogging:\n  level: info\n${extra}`);
  const running = await startCli(['serve', '--config', file], /sidekey started/, { env });
  children.push(running.child);
  return { ...running, file, base: `http://127.0.0.1:${port}` };
}

test('serve answers health, refuses an invalid reload and keeps running, and exits 143 on SIGTERM', async () => {
  const { child, output, exited, file, base } = await start();
  assert.equal((await fetch(`${base}/health`)).status, 200);
  writeFileSync(file, 'admin:\n  listen: 127.0.0.1:1\nlogging:\n  levle: info\n');
  child.kill('SIGHUP');
  await waitFor(() => output().includes('config reload refused'), 'config reload refused in the output');
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
  await waitFor(() => output().includes('config reloaded'), 'config reloaded in the output');
  assert.equal((await fetch(`${base}/metrics`)).status, 404, 'metrics turned off by the reload');
  assert.doesNotMatch(output(), /take effect on restart/, 'nothing waits for a restart');
  const elsewhere = await freePort();
  writeFileSync(file, `admin:\n  listen: 127.0.0.1:${elsewhere}\nmetrics:\n  prometheus:\n    enabled: false\nlogging:\n  level: debug\n`);
  child.kill('SIGHUP');
  await waitFor(() => output().split('config reloaded').length === 3, 'the second reload in the output');
  const restart = output()
    .split('\n')
    .filter((l) => l.includes('take effect on restart'))
    .map((l) => JSON.parse(l) as { level: string; keys: string[]; running: string });
  assert.deepEqual(
    restart.map((l) => [l.level, l.keys, l.running]),
    [
      ['warn', ['logging.level'], 'info'],
      ['warn', ['admin.listen'], `127.0.0.1:${port}`],
    ],
  );
  assert.equal((await fetch(`${base}/health`)).status, 200, 'the admin listener stays where it is until a restart');
  child.kill('SIGHUP');
  await waitFor(() => output().split('config reloaded').length === 4, 'the third reload in the output');
  for (const key of ['logging.level', 'admin.listen'])
    assert.equal(output().split(`"keys":["${key}"]`).length, 3, `a reload of the same file says it again: ${key} still waits`);
  child.kill('SIGTERM');
  assert.equal((await exited).code, 143);
});

/**
 * Preloaded into the daemon (NODE_OPTIONS --import): on SIGUSR2 it makes the process emit a
 * warning, throw from a callback, or leave a rejection unhandled, as SK_TEST_EVENT says.
 */
const HOOK = `process.on('SIGUSR2', () => {
  const event = process.env.SK_TEST_EVENT;
  if (event === 'throw') setImmediate(() => { throw new Error('thrown by the test hook'); });
  else if (event === 'reject') Promise.reject(new Error('rejected by the test hook'));
  else process.emitWarning('emitted by the test hook', 'HookWarning');
});
`;

async function startHooked(event: 'warning' | 'throw' | 'reject') {
  const hook = join(dir.path, 'process-event-hook.mjs');
  writeFileSync(hook, HOOK);
  return start({ NODE_OPTIONS: `--import=${pathToFileURL(hook).href}`, SK_TEST_EVENT: event });
}

/** The JSON log line whose text includes `needle`. */
function jsonLine(output: string, needle: string): Record<string, unknown> {
  const line = output.split('\n').find((l) => l.includes(needle));
  assert.ok(line, `no line with ${needle} in: ${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}

/** How Node prints a warning or a crash itself (raw text on stderr). */
const NODE_OWN_WARNING = /^\(node:\d+\) /m;

test('a Node.js warning is a JSON log line, not raw text on stderr, and the daemon keeps serving', async () => {
  const { child, output, exited, base } = await startHooked('warning');
  child.kill('SIGUSR2');
  await waitFor(() => output().includes('emitted by the test hook'), 'emitted by the test hook in the output');
  const line = jsonLine(output(), 'emitted by the test hook');
  assert.equal(line.level, 'warn');
  assert.equal(line.msg, 'node.js warning');
  assert.deepEqual(line.warning, { type: 'HookWarning', message: 'emitted by the test hook' });
  assert.doesNotMatch(output(), NODE_OWN_WARNING);
  assert.equal((await fetch(`${base}/health`)).status, 200);
  child.kill('SIGTERM');
  assert.equal((await exited).code, 143);
});

for (const [event, origin, text] of [
  ['throw', 'uncaughtException', 'thrown by the test hook'],
  ['reject', 'unhandledRejection', 'rejected by the test hook'],
] as const) {
  test(`an uncaught ${event === 'throw' ? 'exception' : 'rejection'} is logged as a fatal JSON line with its stack, and the daemon exits 1`, async () => {
    const { child, output, exited } = await startHooked(event);
    child.kill('SIGUSR2');
    const { code } = await exited;
    assert.equal(code, 1);
    const line = jsonLine(output(), text);
    assert.equal(line.level, 'fatal');
    assert.equal(line.msg, 'uncaught error: exiting');
    assert.equal(line.origin, origin);
    const err = line.err as { type: string; message: string; stack: string };
    assert.equal(err.type, 'Error');
    assert.equal(err.message, text);
    assert.match(err.stack, /process-event-hook\.mjs/);
    assert.doesNotMatch(output(), NODE_OWN_WARNING);
  });
}

test('shutdown.drain_seconds bounds how long a stop waits for a request still in flight', async () => {
  const { child, exited, base } = await start(undefined, 'shutdown:\n  drain_seconds: 1\n');
  // A request whose head never completes: in flight for node:http, so the stop has to wait for it.
  const socket = connect(Number(new URL(base).port), '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  socket.on('error', () => {});
  // The daemon is another process and nothing outside it shows that it has read a partial head:
  // this pause is the one fixed wait left, and a slow read only makes the stop shorter (a failure).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const stoppedAt = performance.now();
  child.kill('SIGTERM');
  const { code } = await exited;
  const took = performance.now() - stoppedAt;
  socket.destroy();
  assert.equal(code, 143);
  assert.ok(took >= 900, `the stop waited for the request (${Math.round(took)} ms)`);
  assert.ok(took < 5000, `and no longer than the drain time, not the 10 s default (${Math.round(took)} ms)`);
});

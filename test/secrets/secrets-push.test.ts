/**
 * Push: the secrets API's watch (a fetch that answers when the version changes), and the CLI
 * commands built on it, as users run them: `secrets render --watch` and `secrets exec
 * --on-change`, in child processes against a real daemon (SQLite + local key). Changes come
 * through the API (seen at once) and from another process writing the same store (seen at the
 * next poll). A failed fetch never restarts a command or touches a rendered file.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WATCH_POLL_MS } from '../../src/core/secrets/watch-secret.js';
import { linesOf } from '../helpers/file-lines.js';
import { runCli, runCliInBackground } from '../helpers/run-cli.js';
import { waitFor, waitForAsync } from '../helpers/wait-for.js';
import { call } from './api-client.js';
import { apiForFile } from './api-fixture.js';

const { tokens, api } = apiForFile();
const admin = (method: string, path: string, body?: unknown) => call(api().base, method, path, { token: tokens.admin, body });

async function create(name: string, label: string): Promise<string> {
  const payload = api().secret(label);
  const created = await admin('POST', `/v1/secrets/${name}`, { payload });
  assert.equal(created.status, 200, created.text);
  return payload;
}

/** A watch with curl-like inputs; resolves with the answer and how long it took. */
async function watch(name: string, query: string, ifNoneMatch?: string) {
  const started = Date.now();
  const reply = await call(api().base, 'GET', `/v1/secrets/${name}?${query}`, {
    token: tokens.reader,
    headers: ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch },
  });
  return { ...reply, ms: Date.now() - started };
}

/** Until the daemon's sidekey_secrets_watches gauge says `count` watches are waiting. */
async function watchesWaiting(count: number): Promise<void> {
  await waitForAsync(async () => {
    const text = await fetch(`${api().daemon.url('admin')}/metrics`).then((r) => r.text());
    return new RegExp(`^sidekey_secrets_watches ${count}$`, 'm').test(text);
  }, `${count} watches waiting`);
}

/** Writes the store from another process: the CLI in direct mode on the daemon's own files. */
async function rotateElsewhere(name: string, payload: string): Promise<void> {
  const d = api().daemon;
  const done = await runCli(['secrets', 'rotate', '-c', d.configFile, '--application-name', 'cryptex', '--name', name, '--stdin'], {
    cwd: d.dir,
    input: payload,
  });
  assert.equal(done.code, 0, done.stderr);
}

test('a fetch carries its ETag; a watch answers at once on a write through the API, and 304 when nothing changed', async () => {
  await create('push-api', 'v1');
  const first = await call(api().base, 'GET', '/v1/secrets/push-api', { token: tokens.reader });
  assert.equal(first.headers.etag, '"1"');
  const quiet = await watch('push-api', 'wait=1', '"1"');
  assert.equal(quiet.status, 304);
  assert.equal(quiet.headers.etag, '"1"');
  assert.ok(quiet.ms >= 900, `waited ${quiet.ms} ms`);

  const pending = watch('push-api', 'wait=30', '"1"');
  await watchesWaiting(1);
  const writing = Date.now();
  const v2 = await create('push-api', 'v2');
  const changed = await pending;
  const sinceWrite = Date.now() - writing;
  assert.equal(changed.status, 200);
  assert.equal(changed.body.payload, v2);
  assert.equal(changed.headers.etag, '"2"');
  assert.ok(sinceWrite < WATCH_POLL_MS, `a write through this daemon wakes the watch, not the next poll (${sinceWrite} ms)`);
  await watchesWaiting(0);

  const stale = await watch('push-api', 'wait=30', '"1"');
  assert.equal(stale.status, 200, 'a watch from an older version answers at once');
  assert.equal(stale.body.serial, 2);
  assert.ok(stale.ms < 1000);

  const revoking = watch('push-api', 'wait=30', '"2"');
  await watchesWaiting(1);
  assert.equal((await admin('POST', '/v1/revoke/push-api/2')).status, 200);
  const back = await revoking;
  assert.deepEqual([back.status, back.body.serial], [200, 1], 'revoking the latest changes what a fetch answers');
});

test('a write by another process on the same store is seen at the next poll', async () => {
  await create('push-elsewhere', 'v1');
  const pending = watch('push-elsewhere', 'wait=30', '"1"');
  const payload = api().secret('v2');
  await rotateElsewhere('push-elsewhere', payload);
  const changed = await pending;
  assert.equal(changed.status, 200);
  assert.equal(changed.body.payload, payload);
});

test('bad watch inputs are 400s that say what is wrong', async () => {
  await create('push-bad', 'v1');
  for (const [path, header, message] of [
    ['/v1/secrets/push-bad?wait=0', '"1"', /wait must be whole seconds from 1 to 300/],
    ['/v1/secrets/push-bad?wait=301', '"1"', /wait must be whole seconds from 1 to 300/],
    ['/v1/secrets/push-bad/1?wait=5', '"1"', /wait watches the latest version/],
    ['/v1/secrets/push-bad?wait=5', 'W/"1"', /If-None-Match must be an ETag/],
    ['/v1/secrets/push-bad?wait=5&x=1', '"1"', /unknown query parameter "x"/],
  ] as const) {
    const reply = await call(api().base, 'GET', path, { token: tokens.reader, headers: { 'if-none-match': header } });
    assert.equal(reply.status, 400, path);
    assert.match(String(reply.body.Message), message);
  }
});

function endpointFlags(): string[] {
  const d = api().daemon;
  return ['--endpoint', api().base, '--token-file', join(d.dir, 'reader.token')];
}

test('secrets render --watch writes 0600 atomically, re-renders on change, and leaves the file alone when a fetch fails', async () => {
  const d = api().daemon;
  const password = await create('render-db', 'pw1');
  const user = await create('render-user', 'user');
  const template = join(d.dir, 'app.conf.tmpl');
  const out = join(d.dir, 'app.conf');
  writeFileSync(template, 'user={{ secret "render-user" }}\npassword={{secret "render-db"}}\n');
  const run = runCliInBackground(['secrets', 'render', ...endpointFlags(), '--template', template, '--out', out, '--watch'], d.dir);
  try {
    await waitFor(() => existsSync(out), 'the first render');
    assert.equal(readFileSync(out, 'utf8'), `user=${user}\npassword=${password}\n`);
    assert.equal(statSync(out).mode & 0o777, 0o600);

    const second = await create('render-db', 'pw2');
    await waitFor(() => readFileSync(out, 'utf8').includes(second), 'the re-render', 10_000);
    assert.equal(statSync(out).mode & 0o777, 0o600);

    assert.equal((await admin('POST', '/v1/revoke/render-db/2')).status, 200);
    assert.equal((await admin('POST', '/v1/revoke/render-db/1')).status, 200);
    await waitFor(() => /cannot be fetched/.test(run.stderr()), 'the failed fetch reported', 10_000);
    assert.ok(readFileSync(out, 'utf8').includes(second), 'the file is left as it was');
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0);
});

/** The filesystem a directory is on, as stat(1) names it (tmpfs, ext2/ext3, overlayfs, ...). */
const filesystemOf = (directory: string) => execFileSync('stat', ['-f', '-c', '%T', directory], { encoding: 'utf8' }).trim();
const NOT_TMPFS_WARNING = /warning: --out \S+ is not on a tmpfs/;

test('secrets render warns when --out is not on a tmpfs; --remove-on-exit deletes the file when the watch stops', async () => {
  const d = api().daemon;
  const password = await create('render-tmpfs', 'pw');
  const template = join(d.dir, 'tmpfs.tmpl');
  writeFileSync(template, 'password={{ secret "render-tmpfs" }}\n');

  const onDisk = join(d.dir, 'tmpfs-check.conf');
  const once = await runCli(['secrets', 'render', ...endpointFlags(), '--template', template, '--out', onDisk], { cwd: d.dir });
  assert.equal(once.code, 0, once.stderr);
  assert.equal(readFileSync(onDisk, 'utf8'), `password=${password}\n`);
  if (filesystemOf(d.dir) === 'tmpfs') assert.doesNotMatch(once.stderr, NOT_TMPFS_WARNING);
  else assert.match(once.stderr, NOT_TMPFS_WARNING, `${d.dir} is on ${filesystemOf(d.dir)}`);

  // /dev/shm is the tmpfs every Linux has; elsewhere the watch runs in the test's directory.
  const shm = existsSync('/dev/shm') && filesystemOf('/dev/shm') === 'tmpfs' ? mkdtempSync('/dev/shm/sidekey-render-') : d.dir;
  const out = join(shm, 'app.conf');
  const run = runCliInBackground(
    ['secrets', 'render', ...endpointFlags(), '--template', template, '--out', out, '--watch', '--remove-on-exit'],
    d.dir,
  );
  try {
    await waitFor(() => existsSync(out), 'the first render');
    assert.equal(readFileSync(out, 'utf8'), `password=${password}\n`);
    if (shm !== d.dir) assert.doesNotMatch(run.stderr(), NOT_TMPFS_WARNING);
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0, run.stderr());
  assert.equal(existsSync(out), false, 'the rendered file is gone');
  assert.match(run.stderr(), /removed .*app\.conf/);
  if (shm !== d.dir) rmSync(shm, { recursive: true });
});

test('secrets render --remove-on-exit without --watch is a usage error, and writes nothing', async () => {
  const d = api().daemon;
  const template = join(d.dir, 'once.tmpl');
  writeFileSync(template, 'password={{ secret "render-tmpfs" }}\n');
  const out = join(d.dir, 'once.conf');
  const result = await runCli(['secrets', 'render', ...endpointFlags(), '--template', template, '--out', out, '--remove-on-exit'], {
    cwd: d.dir,
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /--remove-on-exit needs --watch/);
  assert.equal(existsSync(out), false);
});

test('secrets render refuses a template it cannot read whole, saying where', async () => {
  const d = api().daemon;
  const template = join(d.dir, 'bad.tmpl');
  writeFileSync(template, 'a=1\nb={{ env "HOME" }}\n');
  const result = await runCli(['secrets', 'render', ...endpointFlags(), '--template', template, '--out', join(d.dir, 'bad.out')]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /bad\.tmpl:2:3: unknown template action \{\{ env "HOME" \}\}; the one action is \{\{ secret "NAME" \}\}/);
  assert.equal(existsSync(join(d.dir, 'bad.out')), false, 'nothing is written');
});

test('secrets exec forwards SIGTERM to the command and ends with its status', async () => {
  const d = api().daemon;
  await create('exec-term', 't1');
  const log = join(d.dir, 'term.log');
  const script = `trap 'echo term >> ${log}; exit 42' TERM; echo start >> ${log}; while :; do sleep 0.1; done`;
  const run = runCliInBackground(['secrets', 'exec', ...endpointFlags(), '--env', 'T=exec-term', '--', 'sh', '-c', script], d.dir);
  try {
    await waitFor(() => linesOf(log).length === 1, 'the start');
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 42, run.stderr());
  assert.deepEqual(linesOf(log), ['start', 'term'], 'the command got the signal');
});

test('secrets exec --on-change restart: one restart per settled change, with the new value; none on a failed fetch', async () => {
  const d = api().daemon;
  await create('exec-db', 'e1');
  const log = join(d.dir, 'exec.log');
  const script = `echo "start $DB" >> ${log}; trap 'exit 0' TERM; while :; do sleep 0.1; done`;
  const run = runCliInBackground(
    ['secrets', 'exec', ...endpointFlags(), '--env', 'DB=exec-db', '--on-change', 'restart', '--', 'sh', '-c', script],
    d.dir,
  );
  const starts = () => linesOf(log);
  try {
    await waitFor(() => starts().length === 1, 'the first start');
    const e2 = await create('exec-db', 'e2');
    const e3 = await create('exec-db', 'e3');
    await waitFor(() => starts().length === 2, 'the restart', 10_000);
    assert.equal(starts()[1], `start ${e3}`, 'two quick rotations make one restart, with the last value');
    assert.notEqual(starts()[1], `start ${e2}`);

    for (const serial of [3, 2, 1]) assert.equal((await admin('POST', `/v1/revoke/exec-db/${serial}`)).status, 200);
    await waitFor(() => /cannot be fetched/.test(run.stderr()), 'the failed fetch reported', 10_000);
    assert.equal(starts().length, 2, 'no restart on a failed fetch');
    assert.match(run.stderr(), /sh keeps running as it is/);
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0, "exec ends with its command's status");
});

test('secrets exec --on-change signal:HUP signals the command instead; a bad action is refused', async () => {
  const d = api().daemon;
  await create('exec-hup', 'h1');
  const log = join(d.dir, 'hup.log');
  const script = `trap 'echo hup >> ${log}' HUP; trap 'exit 0' TERM; echo start >> ${log}; while :; do sleep 0.1; done`;
  const run = runCliInBackground(
    ['secrets', 'exec', ...endpointFlags(), '--env', 'H=exec-hup', '--on-change', 'signal:HUP', '--', 'sh', '-c', script],
    d.dir,
  );
  const lines = () => linesOf(log);
  try {
    await waitFor(() => lines().length === 1, 'the start');
    await create('exec-hup', 'h2');
    await waitFor(() => lines().includes('hup'), 'the signal', 10_000);
    assert.deepEqual(lines(), ['start', 'hup'], 'signalled, not restarted');
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0);
  const bad = await runCli(['secrets', 'exec', ...endpointFlags(), '--env', 'H=exec-hup', '--on-change', 'signal:NOPE', '--', 'true']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--on-change must be restart or signal:NAME \(such as signal:HUP\), not "signal:NOPE"/);
});

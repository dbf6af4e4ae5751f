/**
 * The incident-response API on a real daemon (credential endpoint + STS peer): disable and rotate
 * take effect on the very next request, every call needs the admin token, nothing secret is
 * logged, and the `sidekey admin` client drives it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { daemonConfig, getCredentials, httpRequest, ROLE_WEB, ROLE_WORKER, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { freePort } from '../helpers/free-port.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait-for.js';
import { StsPeer } from '../peers/sts-peer.js';

const ADMIN_TOKEN = randomToken();
const WORKER_TOKEN = randomToken();
const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let sts: StsPeer;
let d: RunningDaemon;
let endpoint: string;
let admin: string;
const issued: string[] = [];

before(async () => {
  sts = new StsPeer();
  await sts.listen();
  const config = daemonConfig(
    sts.url,
    { web: { role: ROLE_WEB, token: TOKEN_WEB }, worker: { role: ROLE_WORKER, tokenFile: 'worker.token' } },
    { admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN } },
  );
  d = await startDaemon(config, { files: { 'worker.token': `${WORKER_TOKEN}\n` } });
  endpoint = d.url('credential-endpoint');
  admin = d.url('admin');
  await waitFor(() => d.daemon.broker.ready(), 'credentials prefetched');
});
after(async () => {
  assertNoSecrets(d.lines, [ADMIN_TOKEN, WORKER_TOKEN, TOKEN_WEB, ...issued, ...sts.issuedSecrets()]);
  await d.stop();
  await sts.close();
});

/** `token: null` sends no Authorization header (undefined would take the default). */
const call = (path: string, method = 'GET', token: string | null = ADMIN_TOKEN, headers: Record<string, string> = {}) =>
  httpRequest(`${admin}${path}`, { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers }, method);

test('every call needs the admin token: 401 without it, with a wrong one, or without the Bearer scheme', async () => {
  for (const [token, headers] of [
    [null, {}],
    [randomToken(), {}],
    [null, { authorization: ADMIN_TOKEN }],
  ] as const) {
    const answer = await call('/admin/services', 'GET', token, headers);
    assert.equal(answer.status, 401, `${JSON.stringify(headers)} ${token === null ? 'no token' : 'a wrong token'}: ${answer.text}`);
    assert.equal(answer.headers['www-authenticate'], 'Bearer');
  }
  const disable = await call('/admin/services/web/disable', 'POST', randomToken());
  assert.equal(disable.status, 401);
  assert.equal((await getCredentials(endpoint, TOKEN_WEB)).status, 200, 'an unauthorized disable changed nothing');
  assert.equal((await call('/admin/services', 'GET', ADMIN_TOKEN, { 'x-forwarded-for': '10.0.0.1' })).status, 403);
});

test('status shows expiry, last refresh and state per service, and no secret', async () => {
  const answer = await call('/admin/services');
  assert.equal(answer.status, 200);
  const services = answer.json().services as Record<string, unknown>[];
  assert.deepEqual(services.map((s) => s.service).sort(), ['web', 'worker']);
  const web = services.find((s) => s.service === 'web') as Record<string, unknown>;
  assert.equal(web.roleArn, ROLE_WEB);
  assert.equal(web.enabled, true);
  assert.ok(!Number.isNaN(Date.parse(String(web.expiration))));
  assert.ok(!Number.isNaN(Date.parse(String(web.lastRefresh))));
  for (const secret of [TOKEN_WEB, WORKER_TOKEN, ADMIN_TOKEN, ...sts.issuedSecrets()]) assert.ok(!answer.text.includes(secret));
  assert.equal((await call('/admin/services/nope')).status, 404);
});

test('disable stops vending at once; enable resumes', async () => {
  assert.equal((await getCredentials(endpoint, TOKEN_WEB)).status, 200);
  const disabled = await call('/admin/services/web/disable', 'POST');
  assert.equal(disabled.status, 200);
  assert.equal(disabled.json().enabled, false);
  assert.equal((await getCredentials(endpoint, TOKEN_WEB)).status, 403, 'the very next request is refused');
  assert.equal((await call('/admin/services/web/disable', 'GET')).status, 405);
  assert.equal((await call('/admin/services/nope/disable', 'POST')).status, 404);
  assert.equal((await call('/admin/services/web/enable', 'POST')).status, 200);
  await waitFor(() => d.daemon.broker.ready(), 'credentials fetched again');
  assert.equal((await getCredentials(endpoint, TOKEN_WEB)).status, 200);
  const lines = d.lines.filter((l) => l.includes('"audit":"admin.'));
  assert.ok(lines.some((l) => l.includes('"audit":"admin.disable"') && l.includes('"service":"web"')));
  assert.ok(lines.some((l) => l.includes('"audit":"admin.enable"')));
});

test('rotate-token: the old token stops at once, the new one works, and a token file is rewritten 0600', async () => {
  const answer = await call('/admin/services/worker/rotate-token', 'POST');
  assert.equal(answer.status, 200);
  const body = answer.json();
  const fresh = String(body.token);
  issued.push(fresh);
  assert.equal(body.persisted, 'file');
  assert.equal((await getCredentials(endpoint, WORKER_TOKEN)).status, 401, 'the old token is refused at once');
  assert.equal((await getCredentials(endpoint, fresh)).status, 200);
  const file = join(d.dir, 'worker.token');
  assert.equal(readFileSync(file, 'utf8'), fresh, 'the token and no line ending');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  // The rewritten file survives a reload: the new token stays in force.
  assert.equal(await d.daemon.reload(), true);
  assert.equal((await getCredentials(endpoint, fresh)).status, 200);

  const inline = await call('/admin/services/web/rotate-token', 'POST');
  assert.equal(inline.json().persisted, 'memory');
  assert.match(String(inline.json().warning), /old one returns on reload/);
  issued.push(String(inline.json().token));
  assert.equal((await getCredentials(endpoint, TOKEN_WEB)).status, 401);
  assert.ok(d.lines.some((l) => l.includes('"audit":"admin.rotate-token"')));
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('sidekey admin drives the API: status, disable, enable, rotate-token --out', async () => {
  const tokenFile = join(d.dir, 'admin.token');
  writeFileSync(tokenFile, `${ADMIN_TOKEN}\n`, { mode: 0o600 });
  const common = ['--endpoint', admin, '--token-file', tokenFile];
  const status = await cli(['admin', 'status', ...common]);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual((JSON.parse(status.stdout).services as { service: string }[]).map((s) => s.service).sort(), ['web', 'worker']);
  assert.equal((await cli(['admin', 'disable', ...common, '--service', 'worker'])).code, 0);
  assert.equal(d.daemon.broker.status().find((s) => s.service === 'worker')?.enabled, false);
  assert.equal((await cli(['admin', 'enable', ...common, '--service', 'worker'])).code, 0);
  const out = join(d.dir, 'new-web.token');
  const rotated = await cli(['admin', 'rotate-token', ...common, '--service', 'web', '--out', out]);
  assert.equal(rotated.code, 0, rotated.stderr);
  assert.equal(rotated.stdout, '', 'with --out the token is not printed');
  const fresh = readFileSync(out, 'utf8');
  assert.match(fresh, /^[A-Za-z0-9_-]{43}$/, 'the token and no line ending');
  issued.push(fresh);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  assert.equal((await getCredentials(endpoint, fresh)).status, 200);
  const bad = await cli(['admin', 'disable', ...common, '--service', '../etc']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--service "\.\.\/etc" must not contain path traversal/);
  const wrong = join(d.dir, 'wrong.token');
  writeFileSync(wrong, randomToken(), { mode: 0o600 });
  const refused = await cli(['admin', 'status', '--endpoint', admin, '--token-file', wrong]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /401/);
});

test("sidekey admin --config takes the admin listener and admin.token from the daemon's config", async () => {
  const port = await freePort();
  const own = await startDaemon(
    daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }, { admin: { listen: `0.0.0.0:${port}`, token: ADMIN_TOKEN } }),
  );
  try {
    await waitFor(() => own.daemon.broker.ready(), 'credentials prefetched');
    const config = join(own.dir, 'sidekey.yaml');
    const status = await cli(['admin', 'status', '--config', config, '--service', 'web']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { service: string }).service, 'web');
    assert.equal((await cli(['admin', 'disable', '--config', config, '--service', 'web'])).code, 0);
    assert.equal(own.daemon.broker.status().find((s) => s.service === 'web')?.enabled, false, 'the wildcard bind is reached on loopback');
    const wrong = join(own.dir, 'wrong.token');
    writeFileSync(wrong, randomToken(), { mode: 0o600 });
    const flagWins = await cli(['admin', 'enable', '--config', config, '--token-file', wrong, '--service', 'web']);
    assert.equal(flagWins.code, 1, 'an explicit --token-file wins over the config');
    assert.match(flagWins.stderr, /401/);
  } finally {
    await own.stop();
  }
  const off = await startDaemon(daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }, { admin: { listen: '127.0.0.1:0' } }));
  try {
    const result = await cli(['admin', 'status', '--config', join(off.dir, 'sidekey.yaml')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /sidekey\.yaml has no admin\.token, so the daemon's incident-response API is off: set admin\.token/);
  } finally {
    await off.stop();
  }
  const neither = await cli(['admin', 'status']);
  assert.equal(neither.code, 2);
  assert.match(neither.stderr, /--token-file FILE .* or --config FILE .* is required/);
});

test('/health and /ready need no token; /ready is 200 once every service holds credentials', async () => {
  assert.equal((await call('/health', 'GET', null)).status, 200);
  const ready = await call('/ready', 'GET', null);
  assert.equal(ready.status, 200, ready.text);
  const body = ready.json() as { status: string; services: { service: string; ready: boolean; enabled: boolean }[] };
  assert.equal(body.status, 'ready');
  assert.deepEqual(
    body.services.filter((s) => s.service === 'web'),
    [{ service: 'web', ready: true, enabled: true }],
  );
});

test('/ready is 503 and names the service while STS cannot be reached; /health stays 200', async () => {
  const deadSts = `http://127.0.0.1:${await freePort()}`;
  const down = await startDaemon(
    daemonConfig(deadSts, { web: { role: ROLE_WEB, token: TOKEN_WEB } }, { admin: { listen: '127.0.0.1:0' } }),
  );
  try {
    const base = down.url('admin');
    assert.equal((await httpRequest(`${base}/health`, {})).status, 200);
    const ready = await httpRequest(`${base}/ready`, {});
    assert.equal(ready.status, 503, ready.text);
    assert.deepEqual(ready.json(), { status: 'not ready', services: [{ service: 'web', ready: false, enabled: true }] });
  } finally {
    await down.stop();
  }
});

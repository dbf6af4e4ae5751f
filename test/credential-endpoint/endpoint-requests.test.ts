import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TOKEN_FILE_CHECK_MS } from '../../src/core/credentials/service-credential-cache.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { waitFor, waitForAsync } from '../helpers/wait-for.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import {
  daemonConfig,
  getCredentials,
  httpRequest,
  RFC3339_NO_MILLIS,
  ROLE_WEB,
  ROLE_WORKER,
  TOKEN_WEB,
  TOKEN_WORKER,
} from './fixtures.js';

const FILE_TOKEN = randomToken();
const ROLE_FILE = 'arn:aws:iam::123456789012:role/from-file';
let peer: StsPeer;
let d: RunningDaemon;
let base: string;

before(async () => {
  peer = await startStsPeer();
  const config = daemonConfig(peer.url, {
    web: { role: ROLE_WEB, token: TOKEN_WEB, assumed: { SourceIdentity: 'alice' } },
    worker: { role: ROLE_WORKER, token: TOKEN_WORKER, extra: { rate_limit: { per_second: 1, burst: 3 } } },
    'file-svc': { role: ROLE_FILE, tokenFile: 'file-svc.token' },
  });
  d = await startDaemon(config, { files: { 'file-svc.token': `${FILE_TOKEN}\n` } });
  base = d.url('credential-endpoint');
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});

after(async () => {
  await d.stop();
  await peer.close();
  assertNoSecrets(d.lines, [TOKEN_WEB, TOKEN_WORKER, FILE_TOKEN, STS_PEER_BASE_KEY.secretAccessKey, ...peer.issuedSecrets()]);
});

test('a valid token gets the SDK response shape with RFC 3339 expiration and no caching', async () => {
  const res = await getCredentials(base, TOKEN_WEB);
  assert.equal(res.status, 200, res.text);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['AccessKeyId', 'AccountId', 'Expiration', 'RoleArn', 'SecretAccessKey', 'Token']);
  assert.match(String(body.AccessKeyId), /^ASIA/);
  assert.match(String(body.Expiration), RFC3339_NO_MILLIS);
  assert.ok(Date.parse(String(body.Expiration)) - Date.now() > 15 * 60 * 1000, 'more than 15 minutes left');
  assert.equal(body.AccountId, '123456789012');
  assert.equal(body.RoleArn, ROLE_WEB);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['cache-control'], 'no-store');
  const call = peer.assumeRoleCalls.find((c) => c.roleArn === ROLE_WEB);
  assert.equal(call?.params.get('RoleSessionName'), 'sidekey-web');
  assert.equal(call?.params.get('SourceIdentity'), 'alice');
  assert.equal(call?.params.get('DurationSeconds'), '3600');
});

test('each token reaches its own service only', async () => {
  const worker = (await getCredentials(base, TOKEN_WORKER)).json();
  assert.equal(worker.RoleArn, ROLE_WORKER);
  const fromFile = (await getCredentials(base, FILE_TOKEN)).json();
  assert.equal(fromFile.RoleArn, ROLE_FILE, 'auth_token_file is read, trailing newline trimmed');
});

test('missing and wrong tokens get the same 401 that names no service', async () => {
  const missing = await getCredentials(base, undefined);
  const wrong = await getCredentials(base, randomToken());
  const prefix = await getCredentials(base, TOKEN_WEB.slice(0, -1));
  for (const res of [missing, wrong, prefix]) {
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { Code: 'Unauthorized', Message: 'missing or invalid authorization token' });
    for (const name of ['web', 'worker', 'file-svc']) assert.ok(!res.text.includes(name));
  }
  assert.equal((await getCredentials(base, `Bearer ${TOKEN_WEB}`)).status, 401, 'the raw token, not a Bearer scheme');
});

test('relayed requests and foreign Host names are refused even with a valid token', async () => {
  for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
    const res = await getCredentials(base, TOKEN_WEB, { [header]: '10.0.0.1' });
    assert.equal(res.status, 403, header);
    assert.equal(res.json().Code, 'ForwardedRequestRefused');
  }
  const port = d.address('credential-endpoint').kind === 'tcp' ? (d.address('credential-endpoint') as { port: number }).port : 0;
  for (const host of ['evil.example', `evil.example:${port}`, `169.254.169.254:${port}`, '127.0.0.1']) {
    const res = await getCredentials(base, TOKEN_WEB, { host });
    assert.equal(res.status, 403, host);
    assert.equal(res.json().Code, 'HostRefused');
  }
  assert.equal((await getCredentials(base, TOKEN_WEB, { host: `localhost:${port}` })).status, 200);
});

test('other methods get 405, other paths 404, /health 200', async () => {
  for (const method of ['HEAD', 'POST', 'PUT', 'DELETE']) {
    const res = await httpRequest(`${base}/v1/credentials`, { authorization: TOKEN_WEB }, method);
    assert.equal(res.status, 405, method);
    assert.equal(res.headers.allow, 'GET');
  }
  const unknown = await httpRequest(`${base}/v2/credentials`, { authorization: TOKEN_WEB });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json().Code, 'NotFound');
  assert.equal((await httpRequest(`${base}/health`)).status, 200);
  assert.equal((await httpRequest(`${base}/v1/credentials?x=1`, { authorization: TOKEN_WEB })).status, 200);
});

test('over its rate limit, a service holding credentials is still served them (the SDKs do not retry a 429)', async () => {
  const answers = await Promise.all(Array.from({ length: 8 }, () => getCredentials(base, TOKEN_WORKER)));
  assert.deepEqual(
    answers.map((a) => a.status),
    Array(8).fill(200),
  );
});

test('requests that would wait on STS are limited: 429 with Retry-After, and the other services keep being served', async () => {
  assert.equal(d.daemon.broker.disable('worker'), true);
  assert.equal(d.daemon.broker.enable('worker'), true);
  peer.delayMs = 500;
  try {
    // The enable starts a fetch; until it lands, every request would wait on STS.
    const answers = await Promise.all(Array.from({ length: 8 }, () => getCredentials(base, TOKEN_WORKER)));
    const limited = answers.filter((a) => a.status === 429);
    assert.ok(limited.length >= 4, `expected at least 4 of 8 limited, got ${limited.length}`);
    assert.equal(limited[0]?.json().Code, 'Throttling');
    assert.ok(Number(limited[0]?.headers['retry-after']) >= 1);
    assert.ok(
      answers.some((a) => a.status === 200),
      'the ones within the burst got the credentials',
    );
    assert.equal((await getCredentials(base, TOKEN_WEB)).status, 200);
  } finally {
    peer.delayMs = 0;
  }
  await waitFor(() => d.daemon.broker.ready(), 'the worker to hold credentials again');
});

test('disable purges and refuses at once; enable fetches anew; setToken swaps the token', async () => {
  const before = (await getCredentials(base, TOKEN_WEB)).json().AccessKeyId;
  assert.equal(d.daemon.broker.disable('web'), true);
  const disabled = await getCredentials(base, TOKEN_WEB);
  assert.equal(disabled.status, 403);
  assert.equal(disabled.json().Code, 'ServiceDisabled');
  assert.equal(d.daemon.broker.ready(), true, 'a disabled service does not hold readiness back');
  const calls = peer.calls(ROLE_WEB);
  assert.equal(d.daemon.broker.enable('web'), true);
  const after = await getCredentials(base, TOKEN_WEB);
  assert.equal(after.status, 200);
  assert.notEqual(after.json().AccessKeyId, before, 'the purged credentials are not served again');
  assert.equal(peer.calls(ROLE_WEB), calls + 1);

  const replacement = randomToken();
  assert.equal(d.daemon.broker.setToken('web', replacement), true);
  assert.equal((await getCredentials(base, TOKEN_WEB)).status, 401);
  assert.equal((await getCredentials(base, replacement)).status, 200);
  assert.throws(() => d.daemon.broker.setToken('web', 'short'), /at least 32 characters/);
  assert.throws(() => d.daemon.broker.setToken('web', TOKEN_WORKER), /already in use/);
  assert.equal(d.daemon.broker.setToken('nope', randomToken()), false);
  d.daemon.broker.setToken('web', TOKEN_WEB);
});

test("on one keep-alive connection a token change, a wrong token or another service's token is honoured at once", async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${base}/v1/credentials`;
  const get = (token: string) => httpRequest(url, { authorization: token }, 'GET', agent);
  try {
    assert.equal((await get(TOKEN_WEB)).status, 200);
    const sameLength = 'x'.repeat(TOKEN_WEB.length);
    const wrong = await get(sameLength);
    assert.equal(wrong.status, 401);
    assert.equal(wrong.reusedSocket, true, 'the same connection');
    assert.equal((await get(TOKEN_WEB)).status, 200);
    const other = await get(FILE_TOKEN);
    assert.equal(other.status, 200);
    assert.equal(other.json().RoleArn, ROLE_FILE);
    assert.equal((await get(TOKEN_WEB)).json().RoleArn, ROLE_WEB);

    const replacement = randomToken();
    d.daemon.broker.setToken('web', replacement);
    const old = await get(TOKEN_WEB);
    assert.equal(old.status, 401, 'the replaced token stops working on a connection that used it');
    assert.equal(old.reusedSocket, true);
    assert.equal((await get(replacement)).status, 200);
    d.daemon.broker.setToken('web', TOKEN_WEB);
    assert.equal((await get(replacement)).status, 401);
    assert.equal((await get(TOKEN_WEB)).status, 200);
  } finally {
    d.daemon.broker.setToken('web', TOKEN_WEB);
    agent.destroy();
  }
});

test('every request leaves one audit line with caller, service, role, session and outcome', async () => {
  const count = d.lines.length;
  await getCredentials(base, TOKEN_WEB);
  await getCredentials(base, 'x'.repeat(40));
  const audits = d.lines
    .slice(count)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.audit === 'credentials.request');
  assert.equal(audits.length, 2);
  const [ok, denied] = audits as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(ok.service, 'web');
  assert.equal(ok.roleArn, ROLE_WEB);
  assert.equal(ok.sessionName, 'sidekey-web');
  assert.equal(ok.sourceIdentity, 'alice');
  assert.equal(ok.caller, '127.0.0.1');
  assert.equal(ok.outcome, 'ok');
  assert.match(String(ok.expiration), RFC3339_NO_MILLIS);
  assert.equal(denied.outcome, 'unauthorized');
  assert.equal(denied.service, undefined);
});

test('metrics count requests by outcome, upstream calls, and seconds to expiry', async () => {
  const text = await (await fetch(`${d.url('admin')}/metrics`)).text();
  assert.match(text, /sidekey_credential_requests_total\{outcome="ok",service="web"\} \d+/);
  assert.match(text, /sidekey_credential_requests_total\{outcome="unauthorized",service=""\} \d+/);
  assert.match(text, /sidekey_upstream_calls_total\{service="web"\} \d+/);
  const expiry = /sidekey_credentials_expiry_seconds\{service="web"\} (\d+)/.exec(text);
  assert.ok(expiry && Number(expiry[1]) > 3000, text);
});

test('a rotated token file takes effect without a reload; a file that turns invalid keeps the last good token', async () => {
  const file = join(d.dir, 'file-svc.token');
  const rotated = randomToken();
  const swap = (content: string) => {
    // As a Kubernetes secret volume or `install -m 600` does: a new file renamed over the old one.
    writeFileSync(`${file}.new`, content, { mode: 0o600 });
    renameSync(`${file}.new`, file);
  };
  try {
    swap(`${rotated}\n`);
    await waitForAsync(
      async () => (await getCredentials(base, rotated)).status === 200,
      'the rotated token to be picked up',
      3 * TOKEN_FILE_CHECK_MS + 1000,
    );
    assert.equal((await getCredentials(base, FILE_TOKEN)).status, 401, 'the old token stops working');
    assert.ok(d.lines.some((l) => l.includes('a token file changed')));

    swap('short\n');
    await waitFor(
      () => d.lines.some((l) => l.includes('service token problem') && l.includes('auth_token_file')),
      'the problem report',
      3 * TOKEN_FILE_CHECK_MS + 1000,
    );
    assert.equal((await getCredentials(base, rotated)).status, 200, 'the last good token stays');
  } finally {
    swap(`${FILE_TOKEN}\n`);
    await waitForAsync(
      async () => (await getCredentials(base, FILE_TOKEN)).status === 200,
      'the original token to be back',
      3 * TOKEN_FILE_CHECK_MS + 1000,
    );
  }
});

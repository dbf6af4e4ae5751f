/**
 * The Parameters and Secrets Lambda extension's Parameter Store route as its users call it (curl
 * with the SSRF token header), on a real daemon whose agent front reads through the real
 * `@aws-sdk/client-ssm` from an SSM peer that verifies every signature. Covers the route and its
 * selectors, per-token parameters, reading as a service's assumed role (the peer's IAM refuses the
 * daemon's own key), one call for a fleet, refresh-ahead, and stale-if-error within its bound.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { daemonConfig } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait-for.js';
import { type SsmPeer, startSsmPeer } from '../peers/ssm-peer.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const run = promisify(execFile);
const WEB = randomToken();
const PAY = randomToken();
const WIDE = randomToken();
const NONE = randomToken();
const REF = randomToken();
const TTL_SECONDS = 3;
const DB_PASSWORD = `db-password-${randomToken(8)}`;
const PAY_KEY = `pay-key-${randomToken(8)}`;
let sts: StsPeer;
let ssm: SsmPeer;
let d: RunningDaemon;
let base: string;

before(async () => {
  sts = await startStsPeer();
  ssm = await startSsmPeer(sts.knownKeys());
  // IAM, as the peer plays it: only the payments role reads /prod/payments/.
  ssm.allow = (keyId, name) =>
    !name.startsWith('/prod/payments/') || (sts.knownKeys().get(keyId)?.arn ?? '').includes(':assumed-role/payments/');
  ssm.put('/prod/web/db', DB_PASSWORD);
  ssm.put('/prod/web/region', 'eu-west-1', 'String');
  ssm.put('/prod/payments/key', PAY_KEY);
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  d = await startDaemon(
    daemonConfig(
      sts.url,
      { payments: { role: 'arn:aws:iam::123456789012:role/payments' } },
      {
        agent: {
          listen: '127.0.0.1:0',
          ttl_seconds: TTL_SECONDS,
          stale_if_error_seconds: 60,
          tokens: [
            { id: 'web', token: WEB, names: ['prod/web/*'], parameters: ['/prod/web/*'] },
            { id: 'pay', token: PAY, parameters: ['/prod/payments/*'], service: 'payments' },
            { id: 'wide', token: WIDE, parameters: ['*'] },
            { id: 'none', token: NONE, names: ['prod/other/*'] },
            { id: 'ref', token: REF, names: ['prod/web/*'], parameters: ['/aws/reference/secretsmanager/*'] },
          ],
        },
      },
    ),
  );
  base = d.url('agent');
});
after(async () => {
  await d?.stop();
  await ssm?.close();
  await sts?.close();
  delete process.env.AWS_ENDPOINT_URL_SSM;
  assertNoSecrets(d.lines, [WEB, PAY, WIDE, NONE, REF, DB_PASSWORD, PAY_KEY, ...sts.issuedSecrets()]);
});

async function curl(path: string, token = WEB) {
  const { stdout } = await run('curl', ['-sS', '-H', `X-Aws-Parameters-Secrets-Token: ${token}`, '-w', '\n%{http_code}', `${base}${path}`]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}
const get = (name: string, extra = '&withDecryption=true', token = WEB) =>
  curl(`/systemsmanager/parameters/get?name=${encodeURIComponent(name)}${extra}`, token);
const parameterValue = async (name: string, extra?: string, token?: string) => {
  const answer = await get(name, extra, token);
  assert.equal(answer.status, 200, answer.body);
  return (JSON.parse(answer.body) as { Parameter: { Value: string } }).Parameter.Value;
};

test("the route answers GetParameter's JSON; withDecryption, version and label select as GetParameter does", async () => {
  const answer = await get('/prod/web/db');
  assert.equal(answer.status, 200, answer.body);
  const { Parameter: p } = JSON.parse(answer.body) as { Parameter: Record<string, unknown> };
  assert.equal(p.Name, '/prod/web/db');
  assert.equal(p.ARN, ssm.arnOf('/prod/web/db'));
  assert.equal(p.Type, 'SecureString');
  assert.equal(p.Value, DB_PASSWORD);
  assert.equal(p.Version, 1);
  assert.equal(typeof p.LastModifiedDate, 'number');
  assert.notEqual(await parameterValue('/prod/web/db', ''), DB_PASSWORD, 'without withDecryption a SecureString stays ciphertext');
  assert.equal(await parameterValue('/prod/web/region', ''), 'eu-west-1', 'a String needs no decryption');

  ssm.put('/prod/web/db', 'second');
  ssm.label('/prod/web/db', 1, 'blue');
  assert.equal(await parameterValue('/prod/web/db', '&withDecryption=true&version=2'), 'second');
  assert.equal(await parameterValue('/prod/web/db', '&withDecryption=true&label=blue'), DB_PASSWORD);
  assert.equal(await parameterValue('/prod/web/db:2'), 'second', 'the selector may travel in the name');
  assert.equal(await parameterValue('/prod/web/db', '&withDecryption=1&version=2'), 'second', 'a flag may be 1, as the agent reads it');
  const missing = await get('/prod/web/db', '&version=9');
  assert.equal(missing.status, 400);
  assert.equal(JSON.parse(missing.body).__type, 'ParameterVersionNotFound');
});

test("a Secrets Manager secret read through Parameter Store's /aws/reference/secretsmanager/ needs the token's names too", async () => {
  // Parameter Store answers such a name with the secret's value; here the peer holds it as a parameter.
  ssm.put('/aws/reference/secretsmanager/prod/web/db', DB_PASSWORD);
  const before = ssm.calls.length;
  for (const [name, token] of [
    ['/aws/reference/secretsmanager/prod/ops/root', WIDE],
    ['arn:aws:ssm:us-east-1:123456789012:parameter/aws/reference/secretsmanager/prod/ops/root', WIDE],
    ['/aws/reference/secretsmanager/prod/web/db', WIDE],
    ['/aws/reference/secretsmanager/prod/ops/root', REF],
  ] as const) {
    const denied = await get(name, '&withDecryption=true', token);
    assert.equal(denied.status, 400, name);
    assert.match(JSON.parse(denied.body).message, /may not read secret "prod\/(ops\/root|web\/db)"/, denied.body);
  }
  const otherCase = await get('/AWS/Reference/SecretsManager/prod/ops/root', '&withDecryption=true', WIDE);
  assert.equal(JSON.parse(otherCase.body).__type, 'AccessDeniedException', 'the prefix in any case is a reference');
  // Parameter Store trims spaces from a name: one with a space is refused before any pattern sees it.
  assert.deepEqual(await get(' /aws/reference/secretsmanager/prod/ops/root', '&withDecryption=true', WIDE), {
    status: 400,
    body: 'name may hold only letters, digits and _ . - / : (at most 2048)',
  });
  assert.equal(ssm.calls.length, before, 'a refused reference never reaches Parameter Store');
  assert.equal(await parameterValue('/aws/reference/secretsmanager/prod/web/db', '&withDecryption=true', REF), DB_PASSWORD);

  // By path, a reference the token's names do not allow is left out of the answer.
  ssm.put('/aws/reference/secretsmanager/prod/ops/root', 'root-secret');
  const byPath = async (token: string) => {
    const answer = await curl(
      `/systemsmanager/parameters/get-by-path?path=/aws/reference/secretsmanager/&recursive=true&withDecryption=true`,
      token,
    );
    assert.equal(answer.status, 200, answer.body);
    return (JSON.parse(answer.body) as { Parameters: { Name: string }[] }).Parameters.map((p) => p.Name);
  };
  assert.deepEqual(await byPath(WIDE), []);
  assert.deepEqual(await byPath(REF), ['/aws/reference/secretsmanager/prod/web/db']);
});

test('bad queries are 400s that name the problem, and a token reads only its parameters', async () => {
  for (const [path, message] of [
    ['/systemsmanager/parameters/get', 'missing parameter name'],
    ['/systemsmanager/parameters/get?name=/prod/web/db&x=1', 'unknown parameter: x'],
    ['/systemsmanager/parameters/get?name=/prod/web/db&version=1&label=blue', 'version and label cannot both be given'],
    ['/systemsmanager/parameters/get?name=/prod/web/db&version=-1', 'version must be a positive whole number'],
    ['/systemsmanager/parameters/get?name=/prod/web/db:1&version=1', 'name already has a :version or :label selector'],
    ['/systemsmanager/parameters/get?name=/prod/web/db&withDecryption=yes', 'invalid withDecryption value'],
  ] as const) {
    assert.deepEqual(await curl(path), { status: 400, body: message }, path);
  }
  const before = ssm.calls.length;
  for (const [name, token] of [
    ['/prod/payments/key', WEB],
    ['/prod/payments/key:1', WEB],
    ['/prod/web/db', NONE],
  ] as const) {
    const denied = await get(name, '&withDecryption=true', token);
    assert.equal(denied.status, 400, name);
    assert.equal(JSON.parse(denied.body).__type, 'AccessDeniedException');
  }
  assert.equal(ssm.calls.length, before, 'a refused read never reaches Parameter Store');
  const notFound = await get('/prod/web/none');
  assert.deepEqual({ status: notFound.status, type: JSON.parse(notFound.body).__type }, { status: 400, type: 'ParameterNotFound' });
});

test("a token with a service reads as that service's assumed role; without one, as the daemon", async () => {
  assert.equal(await parameterValue('/prod/payments/key', undefined, PAY), PAY_KEY);
  const signer = ssm.signers[ssm.calls.lastIndexOf('/prod/payments/key')] ?? '';
  assert.match(sts.knownKeys().get(signer)?.arn ?? '', /:assumed-role\/payments\//, 'signed with the role STS issued');
  const daemonRead = await get('/prod/payments/key', '&withDecryption=true', WIDE);
  assert.equal(daemonRead.status, 400);
  assert.equal(JSON.parse(daemonRead.body).__type, 'AccessDeniedException', "the daemon's own key is refused by IAM");
  assert.equal(ssm.signers.at(-1), STS_PEER_BASE_KEY.accessKeyId);
});

test('200 concurrent callers of a cold parameter make one GetParameter', async () => {
  ssm.put('/prod/web/fleet', 'f1');
  ssm.delayMs = 200;
  try {
    const url = `${base}/systemsmanager/parameters/get?name=${encodeURIComponent('/prod/web/fleet')}&withDecryption=true`;
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => fetch(url, { headers: { 'X-Aws-Parameters-Secrets-Token': WEB } }).then((r) => r.json())),
    );
    assert.ok(answers.every((a) => (a as { Parameter: { Value: string } }).Parameter.Value === 'f1'));
  } finally {
    ssm.delayMs = 0;
  }
  assert.equal(ssm.calls.filter((n) => n === '/prod/web/fleet').length, 1);
});

test('a reload forgets a call under way: a caller after it makes its own call, and the answer kept is the one asked for after it', async () => {
  const name = '/prod/web/reloaded';
  ssm.put(name, 'r1');
  const calls = () => ssm.calls.filter((n) => n === name).length;
  ssm.delayMs = 500;
  try {
    const before = get(name);
    await waitFor(() => calls() === 1, 'the first GetParameter at the peer');
    assert.equal(await d.reload(readFileSync(d.configFile, 'utf8')), true);
    const after = get(name);
    await waitFor(() => calls() === 2, 'a GetParameter of its own for the caller after the reload');
    assert.deepEqual([(await before).status, (await after).status], [200, 200]);
  } finally {
    ssm.delayMs = 0;
  }
  assert.equal(await parameterValue(name), 'r1');
  assert.equal(calls(), 2, 'the answer asked for after the reload is the one kept');
});

test('refresh-ahead: a new value arrives before the TTL ends without a caller waiting; a failing source is bridged, a deletion is not', async () => {
  const name = '/prod/web/rotating';
  const calls = () => ssm.calls.filter((n) => n === name).length;
  ssm.put(name, 'r1');
  assert.equal(await parameterValue(name), 'r1');
  const fetchedAt = Date.now();
  ssm.put(name, 'r2');
  let seen = 'r1';
  // Callers keep reading, as a service would; waitFor watches what they see.
  const poll = setInterval(() => {
    void parameterValue(name).then((v) => {
      seen = v;
    });
  }, 50);
  try {
    await waitFor(() => seen === 'r2', 'the refreshed value', TTL_SECONDS * 1000 + 2000);
  } finally {
    clearInterval(poll);
  }
  assert.ok(
    Date.now() - fetchedAt < TTL_SECONDS * 1000,
    `r2 arrived ${Date.now() - fetchedAt} ms after r1, within the ${TTL_SECONDS} s TTL`,
  );
  assert.equal(calls(), 2, 'one background refresh, however many reads');

  ssm.failure = 'internal';
  const heldSince = Date.now();
  await waitFor(() => Date.now() - heldSince > TTL_SECONDS * 1000, 'the TTL to pass', TTL_SECONDS * 1000 + 1000);
  assert.equal(await parameterValue(name), 'r2', 'a 500 from the source is bridged by the held answer');
  const metrics = await (await fetch(`${d.url('admin')}/metrics`)).text();
  assert.match(metrics, /sidekey_agent_stale_answers_total\{source="ssm"\} [1-9]/);
  ssm.failure = undefined;
  ssm.remove(name);
  const gone = await get(name);
  assert.equal(JSON.parse(gone.body).__type, 'ParameterNotFound', 'a deleted parameter is honoured at once');
  ssm.failure = 'internal';
  try {
    const failed = await get(name);
    assert.equal(failed.status, 500, 'nothing held any more: the failure passes through');
  } finally {
    ssm.failure = undefined;
  }
});

test("sidekey's by-path route: every parameter under a path, all pages, only what the token's patterns name", async () => {
  for (let i = 0; i < 12; i++) ssm.put(`/prod/web/many/p${String(i).padStart(2, '0')}`, `value-${i}`);
  ssm.put('/prod/web/many/deeper/leaf', 'leaf');
  const path = (p: string, extra = '&withDecryption=true') =>
    curl(`/systemsmanager/parameters/get-by-path?path=${encodeURIComponent(p)}${extra}`);
  const one = await path('/prod/web/many/');
  assert.equal(one.status, 200, one.body);
  const names = (JSON.parse(one.body) as { Parameters: { Name: string; Value: string }[] }).Parameters.map((p) => p.Name);
  assert.equal(names.length, 12, 'two pages of GetParametersByPath, one level');
  assert.ok(!names.includes('/prod/web/many/deeper/leaf'));
  const all = await path('/prod/web/many/', '&withDecryption=true&recursive=true');
  assert.equal((JSON.parse(all.body) as { Parameters: unknown[] }).Parameters.length, 13);
  assert.equal(ssm.calls.filter((c) => c === 'path:/prod/web/many/').length, 4, 'each answer paged once, then cached');
  await path('/prod/web/many/');
  assert.equal(ssm.calls.filter((c) => c === 'path:/prod/web/many/').length, 4);

  const outside = await curl(`/systemsmanager/parameters/get-by-path?path=${encodeURIComponent('/prod/')}`);
  assert.equal(outside.status, 400);
  assert.equal(JSON.parse(outside.body).__type, 'AccessDeniedException', 'a path wider than the patterns is refused');
  const bad = await curl('/systemsmanager/parameters/get-by-path?path=prod');
  assert.deepEqual(bad, { status: 400, body: 'path must begin with / and hold only letters, digits, / _ . and -' });
  // The wide token reads /prod/ whole, but gets only what its own patterns name.
  const wide = await curl(`/systemsmanager/parameters/get-by-path?path=${encodeURIComponent('/prod/web/')}&recursive=true`, WIDE);
  assert.equal(wide.status, 200, wide.body);
});

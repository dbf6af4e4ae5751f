/**
 * `secrets.ecs_secrets_api`: the answers of the real ecs-secrets daemon, point by point from
 * docs/secrets.md, driven with curl as the seed's task definitions do
 * (`curl -X POST -d @password.txt ecs-secrets:8080/latest/secrets/password`, a fetch, a revoke).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { httpRequest } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { freePort } from '../helpers/free-port.js';

const ADMIN = randomToken();
let d: RunningDaemon;
let base: string;
let port: number;

before(async () => {
  port = await freePort();
  d = await startDaemon(`
admin: { listen: 127.0.0.1:0 }
secrets:
  listen: 127.0.0.1:0
  application: cryptex
  allowed_hosts: ["ecs-secrets:${port}"]
  store: { type: sqlite, path: ./data/secrets.db }
  keyring: { type: local, key_file: ./data/master.key }
  tokens:
    - { id: deployer, token: "${ADMIN}", role: admin, application: cryptex }
  ecs_secrets_api: { listen: "127.0.0.1:${port}", token_id: deployer }
`);
  base = `http://127.0.0.1:${port}`;
});
after(async () => {
  await d?.stop();
});

/** curl as the seed's task definitions run it, resolving ecs-secrets to this listener; stdout, and the status. */
function curl(args: string[]): Promise<{ stdout: string; status: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-s', '-w', '\n%{http_code}', '--resolve', `ecs-secrets:${port}:127.0.0.1`, ...args],
      { cwd: d.dir },
      (error, stdout) => {
        if (error) return reject(error);
        const at = stdout.lastIndexOf('\n');
        resolve({ stdout: stdout.slice(0, at), status: Number(stdout.slice(at + 1)) });
      },
    );
  });
}

test("the seed's task definitions: create with curl -d @file, fetch, revoke, fetch the revoked version", async () => {
  writeFileSync(join(d.dir, 'password.txt'), '{"payload":"123456"}');
  const created = await curl(['-X', 'POST', '-d', '@password.txt', `ecs-secrets:${port}/latest/secrets/password`]);
  assert.deepEqual(created, { stdout: '', status: 200 });
  const fetched = await curl([`ecs-secrets:${port}/latest/secrets/password`]);
  assert.deepEqual(fetched, { stdout: '{"name":"password","serial":1,"payload":"123456","active":true}\n', status: 200 });
  writeFileSync(join(d.dir, 'db.txt'), '{"payload":"first"}');
  await curl(['-X', 'POST', '-d', '@db.txt', `ecs-secrets:${port}/latest/secrets/dbpassword`]);
  writeFileSync(join(d.dir, 'db.txt'), '{"payload":"mydbpassword"}');
  await curl(['-X', 'POST', '-d', '@db.txt', `ecs-secrets:${port}/latest/secrets/dbpassword`]);
  assert.deepEqual(await curl(['-X', 'POST', `ecs-secrets:${port}/latest/revoke/dbpassword/1`]), { stdout: '', status: 200 });
  assert.equal(
    (await curl([`ecs-secrets:${port}/latest/secrets/dbpassword/1`])).stdout,
    '{"name":"dbpassword","serial":1,"payload":"","active":false}\n',
  );
  assert.equal(
    (await curl([`ecs-secrets:${port}/latest/secrets/dbpassword`])).stdout,
    '{"name":"dbpassword","serial":2,"payload":"mydbpassword","active":true}\n',
  );
});

test('create answers: 200 with an empty body and no Content-Type; bad bodies 400, empty', async () => {
  const ok = await fetch(`${base}/vv1/secrets/api-key`, { method: 'POST', body: '{"payload":"k1","extra":1}' });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get('content-type'), null);
  assert.equal(await ok.text(), '');
  for (const body of ['', 'not json', '{"payload":42}', '[]']) {
    const bad = await fetch(`${base}/latest/secrets/api-key`, { method: 'POST', body });
    assert.equal(bad.status, 400, body);
    assert.equal(await bad.text(), '');
  }
});

test('latest is the highest serial even when revoked; unknown names and bad serials are 400, empty', async () => {
  await fetch(`${base}/latest/secrets/rotating`, { method: 'POST', body: '{"payload":"v1"}' });
  await fetch(`${base}/latest/secrets/rotating`, { method: 'POST', body: '{"payload":"v2"}' });
  assert.equal((await fetch(`${base}/latest/revoke/rotating/2`, { method: 'POST' })).status, 200);
  assert.equal((await fetch(`${base}/latest/revoke/rotating/2`, { method: 'POST' })).status, 200, 'a second revoke: 200');
  assert.equal(
    await (await fetch(`${base}/latest/secrets/rotating`)).text(),
    '{"name":"rotating","serial":2,"payload":"","active":false}\n',
  );
  assert.equal(
    ((await (await fetch(`${base}/latest/secrets/rotating/01`)).json()) as { payload: string }).payload,
    'v1',
    'serials as Atoi reads them',
  );
  for (const path of ['/latest/secrets/nope', '/latest/secrets/rotating/abc', '/latest/secrets/rotating/0', '/latest/secrets/rotating/9']) {
    const answer = await fetch(`${base}${path}`);
    assert.equal(answer.status, 400, path);
    assert.equal(await answer.text(), '');
  }
  assert.equal((await fetch(`${base}/latest/revoke/nope/7`, { method: 'POST' })).status, 200, 'unknown name or serial: 200');
  assert.equal((await fetch(`${base}/latest/revoke/rotating/abc`, { method: 'POST' })).status, 400);
});

test('version, other methods, /v1/, a trailing slash, and Go-escaped JSON', async () => {
  const version = await fetch(`${base}/latest/version`);
  assert.equal(await version.text(), '{}\n');
  assert.equal(version.headers.get('content-type'), 'application/json');
  for (const [method, path] of [
    ['HEAD', '/latest/secrets/password'],
    ['DELETE', '/latest/secrets/password'],
    ['GET', '/v1/secrets/password'],
  ] as const) {
    const answer = await fetch(`${base}${path}`, { method });
    assert.equal(answer.status, 404, `${method} ${path}`);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/plain/);
  }
  const slash = await fetch(`${base}/latest/secrets/password/`, { redirect: 'manual' });
  assert.equal(slash.status, 301);
  assert.equal(slash.headers.get('location'), '/latest/secrets/password');
  await fetch(`${base}/latest/secrets/html`, { method: 'POST', body: JSON.stringify({ payload: '<a href="x">&</a>' }) });
  assert.equal(
    await (await fetch(`${base}/latest/secrets/html`)).text(),
    '{"name":"html","serial":1,"payload":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u003c/a\\u003e","active":true}\n',
  );
});

test('sidekey check warns that the listener answers without a token', async () => {
  const { runCli } = await import('../helpers/run-cli.js');
  const check = await runCli(['check', '--config', d.configFile, '--format', 'json', '--offline']);
  const findings = (JSON.parse(check.stdout) as { findings: { id: string; message: string }[] }).findings;
  assert.ok(
    findings.some((f) => f.id === 'secrets-tokenless-api' && /answers as token "deployer"/.test(f.message)),
    check.stdout,
  );
});

test('unlike ecs-secrets: a foreign Host and a relayed request are refused, and the listener must be loopback', async () => {
  assert.equal((await httpRequest(`${base}/latest/secrets/password`, { host: 'attacker.example' })).status, 403);
  assert.equal((await httpRequest(`${base}/latest/secrets/password`, { 'x-forwarded-for': '10.0.0.1' })).status, 403);
  const bad = await d.reload(
    `secrets:\n  tokens:\n    - { id: deployer, token: "${ADMIN}", role: admin }\n  ecs_secrets_api: { listen: "0.0.0.0:${port}", token_id: deployer }\n`,
  );
  assert.equal(bad, false);
  assert.ok(d.lines.some((l) => l.includes('ecs_secrets_api.listen: must be a loopback address or a unix socket')));
});

test('with require_token the listener may be elsewhere, and check has nothing to say about a tokenless API', async () => {
  const { runCli } = await import('../helpers/run-cli.js');
  const file = join(d.dir, 'require-token.yaml');
  writeFileSync(
    file,
    `secrets:\n  application: cryptex\n  tokens:\n    - { id: deployer, token: "${ADMIN}", role: admin }\n  ecs_secrets_api: { listen: "0.0.0.0:${port}", token_id: deployer, require_token: true }\n`,
  );
  const check = await runCli(['check', '--config', file, '--format', 'json', '--offline']);
  const findings = (JSON.parse(check.stdout) as { findings: { id: string }[] }).findings;
  assert.ok(!findings.some((f) => f.id === 'secrets-tokenless-api'), check.stdout);
  const validated = await runCli(['validate', '--config', file]);
  assert.equal(validated.code, 0, validated.stderr);
});

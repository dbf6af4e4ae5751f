/**
 * The remaining low-severity findings, each through the real daemon:
 * - a credential request waiting on an in-flight STS call was answered after the service
 *   was disabled;
 * - validate accepted one token used by a service, the admin API and both secrets roles
 *   (equal secrets tokens with different roles resolved to the last);
 * - unauthorised credential requests: not slowed down, but their log volume is bounded;
 *   a stored serial of 1E+300 made every create lose 64 races.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { UNAUTHORIZED_LOG_RATE } from '../../src/credential-endpoint/credential-request-handler.js';
import { daemonConfig, getCredentials, httpRequest, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { startDaemon } from '../helpers/daemon-harness.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const ADMIN = randomToken();
const ADMIN_SECRETS = randomToken();
let sts: StsPeer;
const dir = tempDir('sidekey-low-');

before(async () => {
  sts = await startStsPeer();
});
after(async () => {
  await sts?.close();
  dir.remove();
});

test('a request waiting on an in-flight STS call is refused once the service is disabled', async () => {
  sts.delayMs = 800;
  const d = await startDaemon(
    daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }, { admin: { listen: '127.0.0.1:0', token: ADMIN } }),
  );
  try {
    const before = sts.requests;
    const waiting = getCredentials(d.url('credential-endpoint'), TOKEN_WEB);
    await waitFor(() => sts.requests > before, 'the STS call to be in flight');
    const disabled = await httpRequest(`${d.url('admin')}/admin/services/web/disable`, { authorization: `Bearer ${ADMIN}` }, 'POST');
    assert.equal(disabled.status, 200, disabled.text);
    const answer = await waiting;
    assert.equal(answer.status, 403, answer.text);
    assert.doesNotMatch(answer.text, /AccessKeyId/);
  } finally {
    sts.delayMs = 0;
    await d.stop();
  }
});

test('validate refuses one token shared by a service, the admin API and the secrets roles', async () => {
  const shared = randomToken();
  const file = join(dir.path, 'shared.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      admin: { token: shared },
      services: { web: { auth_token: shared, assumed_role: { RoleArn: ROLE_WEB } } },
      secrets: {
        tokens: [
          { id: 'reader', token: shared, role: 'reader' },
          { id: 'writer', token: shared, role: 'admin' },
        ],
      },
    }),
  );
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /admin\.token is the same token as services\.web\.auth_token/);
  assert.match(result.stderr, /secrets\.tokens\[0\]\.token is the same token as services\.web\.auth_token/);
  assert.match(result.stderr, /secrets\.tokens\[1\]\.token is the same token as services\.web\.auth_token/);
  assert.doesNotMatch(result.stderr + result.stdout, new RegExp(shared));
});

test('refused tokens are answered 401 every time, and logged at a bounded rate', async () => {
  const d = await startDaemon(daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }));
  try {
    await waitFor(() => d.daemon.broker.ready(), 'prefetch');
    const before = d.lines.length;
    const answers = await Promise.all(Array.from({ length: 400 }, () => getCredentials(d.url('credential-endpoint'), randomToken())));
    assert.ok(answers.every((a) => a.status === 401));
    const logged = d.lines.slice(before).filter((l) => l.includes('"outcome":"unauthorized"'));
    assert.ok(logged.length <= 3 * UNAUTHORIZED_LOG_RATE + 2, `${logged.length} lines for 400 refusals`);
    assert.ok(
      logged.some((l) => /"unlogged":\d+/.test(l)),
      `a summary says how many went unlogged: ${logged.slice(-2).join('\n')}`,
    );
    const metrics = (await httpRequest(`${d.url('admin')}/metrics`)).text;
    assert.match(metrics, /sidekey_credential_requests_total\{outcome="unauthorized",service=""\} 400/);
    assert.equal((await getCredentials(d.url('credential-endpoint'), TOKEN_WEB)).status, 200);
  } finally {
    await d.stop();
  }
});

test('a stored serial of 1E+300 is refused at once with a clear message, not 64 lost races', async () => {
  const d = await startDaemon(
    JSON.stringify({
      admin: { listen: '127.0.0.1:0' },
      secrets: {
        listen: '127.0.0.1:0',
        store: { type: 'sqlite', path: './data/secrets.db' },
        keyring: { type: 'local', key_file: './data/master.key' },
        tokens: [{ id: 'deployer', token: ADMIN_SECRETS, role: 'admin' }],
      },
    }),
  );
  try {
    const db = new Database(join(d.dir, 'data', 'secrets.db'));
    db.prepare(
      "INSERT INTO secret_versions (app, name, serial, active, created_at, created_by) VALUES ('default', 'huge', 1e300, 0, 'x', 'planted')",
    ).run();
    db.close();
    const started = Date.now();
    const answer = await fetch(`${d.url('secrets')}/latest/secrets/huge`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_SECRETS}`, 'content-type': 'application/json' },
      body: JSON.stringify({ payload: 'value' }),
    });
    assert.equal(answer.status, 409);
    assert.match(await answer.text(), /beyond the highest serial 9007199254740991: that row was not written by sidekey/);
    assert.ok(Date.now() - started < 1000);
  } finally {
    await d.stop();
  }
});

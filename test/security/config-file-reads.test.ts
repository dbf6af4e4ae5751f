/**
 * Attacks on what the config reads and says:
 * - a FIFO (or a device, or a huge file) put where `${fromFile:}` or `auth_token_file`
 *   points froze the daemon or filled its memory before the size check;
 * - validation messages (and so a refused reload's log line) echoed a password in a URL
 *   and the content of a file read through `${fromFile:}`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/core/config/load-config.js';
import { MAX_SUBSTITUTED_FILE_BYTES } from '../../src/core/config/substitute.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { daemonConfig, getCredentials, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const dir = tempDir('sidekey-reads-');
const fifo = join(dir.path, 'fifo');
const huge = join(dir.path, 'huge');
const PASSWORD = randomToken();
let peer: StsPeer;

before(async () => {
  execFileSync('mkfifo', [fifo]);
  writeFileSync(huge, Buffer.alloc(MAX_SUBSTITUTED_FILE_BYTES * 4, 'a'));
  peer = await startStsPeer();
});
after(async () => {
  await peer.close();
  dir.remove();
});

function problemsOf(yaml: string): string {
  const file = join(dir.path, `c-${randomToken().slice(0, 8)}.yaml`);
  writeFileSync(file, yaml);
  try {
    loadConfig(file, { env: {} });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('the config loaded');
}

test('${fromFile:} of a FIFO is refused at once, not read until a writer comes', () => {
  const started = Date.now();
  const message = problemsOf(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: `\${fromFile:${fifo}}` } }));
  assert.match(message, /services\.web\.auth_token: cannot read .*fifo for \$\{fromFile:\.\.\.\} \(not a regular file\)/);
  assert.ok(Date.now() - started < 2000);
  assert.match(problemsOf(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: '${fromFile:/dev/zero}' } })), /not a regular file/);
});

test('${fromFile:} of a huge file is refused by size', () => {
  const message = problemsOf(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: `\${fromFile:${huge}}` } }));
  assert.match(message, new RegExp(`larger than ${MAX_SUBSTITUTED_FILE_BYTES} bytes`));
});

test('an auth_token_file that is a FIFO is refused at start, and at reload the daemon keeps answering', async () => {
  await assert.rejects(
    startDaemon(daemonConfig(peer.url, { web: { role: ROLE_WEB, tokenFile: fifo } })),
    /cannot read token file .*fifo \(not a regular file\)/,
  );
  const d: RunningDaemon = await startDaemon(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }));
  try {
    await waitFor(() => d.daemon.broker.ready(), 'prefetch');
    await d.reload(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: TOKEN_WEB }, other: { role: ROLE_WEB, tokenFile: fifo } }));
    assert.ok(d.lines.some((l) => /cannot read token file .*fifo \(not a regular file\)/.test(l)));
    assert.equal((await getCredentials(d.url('credential-endpoint'), TOKEN_WEB)).status, 200);
  } finally {
    await d.stop();
  }
});

test('a password in a URL is never echoed by validation, nor by a refused reload', async () => {
  const message = problemsOf(
    daemonConfig(
      `http://admin:${PASSWORD}@127.0.0.1:1/`,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      { imds: { upstream: `http://u:${PASSWORD}@169.254.169.254` } },
    ),
  );
  assert.match(
    message,
    /credentials\.sts_endpoint: must not carry a user name or password, got "http:\/\/\(credentials not shown\)@127\.0\.0\.1:1\/"/,
  );
  assert.doesNotMatch(message, new RegExp(PASSWORD));
  const d = await startDaemon(daemonConfig(peer.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }));
  try {
    assert.equal(
      await d.reload(daemonConfig(`https://admin:${PASSWORD}@sts.example/`, { web: { role: ROLE_WEB, token: TOKEN_WEB } })),
      false,
    );
    assert.ok(d.lines.some((l) => l.includes('sts_endpoint')));
    assertNoSecrets(d.lines, [PASSWORD]);
  } finally {
    await d.stop();
  }
});

test('a ${fromFile:} value refused by validation is not echoed', () => {
  const file = join(dir.path, 'not-a-role');
  writeFileSync(file, `secret-looking-${PASSWORD}`);
  const message = problemsOf(daemonConfig(peer.url, { web: { role: `\${fromFile:${file}}`, token: TOKEN_WEB } }));
  assert.match(message, /services\.web\.assumed_role\.RoleArn: expected an IAM role ARN .*got a value \(not shown: it came from/);
  assert.doesNotMatch(message, new RegExp(PASSWORD));
});

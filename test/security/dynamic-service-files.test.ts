/**
 * Attacks through a dynamic_services directory, whose writer is trusted less than the main config,
 * driven through a real daemon and its credential endpoint:
 * - a file that points source_credentials.iam_profile at a config file with a
 *   credential_process (command execution as the daemon);
 * - a file that reads the daemon's files through ${fromFile:} or its environment through
 *   ${fromEnv:}, or puts a file's content into a key whose refusal would echo it;
 * - the roles a file may name (allowed_role_arns) and where its token file may live.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { daemonConfig, getCredentials, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const ALLOWED = 'arn:aws:iam::123456789012:role/apps/*';
const ROLE_OK = 'arn:aws:iam::123456789012:role/apps/good';
const daemonSide = tempDir('sidekey-daemon-side-');
const servicesDir = tempDir('sidekey-dyn-');
const MARKER = join(daemonSide.path, 'credential-process-ran');
/** A secret of the daemon's, outside the services directory. */
const DAEMON_SECRET = randomToken();
const ENV_SECRET = randomToken();
const tokens = {
  good: randomToken(),
  profile: randomToken(),
  role: randomToken(),
  outside: randomToken(),
  env: randomToken(),
  echo: randomToken(),
  link: randomToken(),
};
let peer: StsPeer;
let d: RunningDaemon;
let base: string;

const service = (name: string, token: string, role: string, extra = '') =>
  `services:\n  ${name}:\n    auth_token: "${token}"\n    assumed_role:\n      RoleArn: "${role}"\n${extra}`;

before(async () => {
  peer = await startStsPeer();
  const secretFile = join(daemonSide.path, 'daemon.secret');
  writeFileSync(secretFile, DAEMON_SECRET, { mode: 0o600 });
  const awsConfig = join(daemonSide.path, 'evil-aws-config');
  writeFileSync(awsConfig, `[profile evil]\ncredential_process = /bin/sh -c "touch ${MARKER}; echo '{}'"\n`);
  const dir = servicesDir.path;
  writeFileSync(join(dir, 'good.yaml'), service('dyn-good', tokens.good, ROLE_OK));
  writeFileSync(
    join(dir, 'profile.yaml'),
    service(
      'dyn-profile',
      tokens.profile,
      ROLE_OK,
      `    source_credentials:\n      iam_profile:\n        profile_name: evil\n        config_file: ${awsConfig}\n`,
    ),
  );
  writeFileSync(join(dir, 'role.yaml'), service('dyn-role', tokens.role, 'arn:aws:iam::123456789012:role/admin'));
  writeFileSync(
    join(dir, 'outside.yaml'),
    service('dyn-outside', tokens.outside, ROLE_OK, `      RoleSessionName: "\${fromFile:${secretFile}}"\n`),
  );
  writeFileSync(join(dir, 'env.yaml'), service('dyn-env', tokens.env, ROLE_OK, '      RoleSessionName: "${fromEnv:DAEMON_ENV_SECRET}"\n'));
  // A file the writer owns, but whose content is not a session name: the refusal must not echo it.
  writeFileSync(join(dir, 'shadow-copy'), 'root:$6$notashadowhash:19000:0:99999:7:::');
  writeFileSync(join(dir, 'echo.yaml'), service('dyn-echo', tokens.echo, ROLE_OK, '      RoleSessionName: "${fromFile:./shadow-copy}"\n'));
  // A token "file" that is a link to a file of the daemon's.
  symlinkSync(secretFile, join(dir, 'link.token'));
  writeFileSync(
    join(dir, 'link.yaml'),
    `services:\n  dyn-link:\n    auth_token_file: ./link.token\n    assumed_role:\n      RoleArn: "${ROLE_OK}"\n`,
  );
  mkdirSync(join(dir, 'sub'));
  d = await startDaemon(
    daemonConfig(
      peer.url,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      { dynamic_services: { enabled: true, directories: [{ path: dir }], reload_interval: 3600, allowed_role_arns: [ALLOWED] } },
    ),
    { env: { DAEMON_ENV_SECRET: ENV_SECRET } },
  );
  base = d.url('credential-endpoint');
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});

after(async () => {
  await d?.stop();
  await peer?.close();
  daemonSide.remove();
  servicesDir.remove();
});

function refusal(file: string): string {
  const line = d.lines.find((l) => l.includes('dynamic service file refused') && l.includes(file));
  assert.ok(line, `no refusal logged for ${file}:\n${d.lines.filter((l) => l.includes('refused')).join('\n')}`);
  return line;
}

test('a dynamic file cannot set source_credentials (no credential_process runs as the daemon)', async () => {
  assert.match(
    refusal('profile.yaml'),
    /services\.dyn-profile\.source_credentials: may not be set here: a dynamic service file cannot choose base credentials/,
  );
  assert.equal((await getCredentials(base, tokens.profile)).status, 401);
  assert.equal(existsSync(MARKER), false, 'the credential_process ran');
  const good = await getCredentials(base, tokens.good);
  assert.equal(good.status, 200, 'a file within the rules is served');
  assert.equal(good.json().RoleArn, ROLE_OK);
});

test('a dynamic file may only name a role that allowed_role_arns lists', async () => {
  assert.match(
    refusal('role.yaml'),
    /RoleArn: arn:aws:iam::123456789012:role\/admin is not allowed in a dynamic service file .* must match dynamic_services\.allowed_role_arns \(arn:aws:iam::123456789012:role\/apps\/\*\)/,
  );
  assert.equal((await getCredentials(base, tokens.role)).status, 401);
  assert.equal(peer.calls('arn:aws:iam::123456789012:role/admin'), 0, 'STS was never asked for the role');
});

test('enabling dynamic_services without allowed_role_arns is a config error', async () => {
  const refused = await d.reload(
    daemonConfig(
      peer.url,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      { dynamic_services: { enabled: true, directories: [{ path: servicesDir.path }] } },
    ),
  );
  assert.equal(refused, false);
  assert.ok(d.lines.some((l) => /dynamic_services\.allowed_role_arns: is required when dynamic_services is enabled/.test(l)));
});

test('${fromFile:} outside the allowed directories and ${fromEnv:} are refused, and nothing read reaches the log', async () => {
  assert.match(refusal('outside.yaml'), /is outside the directories allowed in a dynamic service file/);
  assert.match(refusal('env.yaml'), /\$\{fromEnv:\.\.\.\} is not allowed in a dynamic service file/);
  assert.equal((await getCredentials(base, tokens.outside)).status, 401);
  assert.equal((await getCredentials(base, tokens.env)).status, 401);
  assertNoSecrets(d.lines, [DAEMON_SECRET, ENV_SECRET]);
});

test('a refused value read through ${fromFile:} is not echoed in the message', () => {
  const line = refusal('echo.yaml');
  assert.match(
    line,
    /RoleSessionName: expected a session name .*got a value \(not shown: it came from \$\{fromFile:\} or \$\{fromEnv:\}\)/,
  );
  assert.doesNotMatch(line, /root:|notashadowhash/);
});

test('a token file that links outside the allowed directories is refused', async () => {
  assert.match(refusal('link.yaml'), /services\.dyn-link\.auth_token_file: .*link\.token is not allowed in a dynamic service file/);
  assert.equal((await getCredentials(base, DAEMON_SECRET)).status, 401);
  assertNoSecrets(d.lines, [DAEMON_SECRET]);
});

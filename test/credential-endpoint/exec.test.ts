/** `sidekey exec` runs a real child with credentials from an ephemeral endpoint, against the STS peer. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { tempDir } from '../helpers/temp-dir.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig, ROLE_WEB } from './fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = tempDir();
/** Each test spawns a few node processes; a hang must fail, not stall the suite. */
const TEST_TIMEOUT_MS = 15_000;
let peer: StsPeer;
let configFile: string;

/** The child: prints what it sees, fetches credentials the way an SDK does, then exits with `code`. */
const CHILD = `
const uri = process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
const res = await fetch(uri, { headers: { authorization: process.env.AWS_CONTAINER_AUTHORIZATION_TOKEN } });
const body = await res.json();
console.log(JSON.stringify({ uri, status: res.status, accessKeyId: body.AccessKeyId, roleArn: body.RoleArn,
  leaked: process.env.AWS_ACCESS_KEY_ID ?? null, profile: process.env.AWS_PROFILE ?? null,
  sharedFile: process.env.AWS_SHARED_CREDENTIALS_FILE, region: process.env.AWS_REGION,
  relative: process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ?? null }));
process.exit(Number(process.argv[1]));
`;

function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr }))) };
}

before(async () => {
  peer = await startStsPeer();
  configFile = join(dir.path, 'sidekey.yaml');
  writeFileSync(configFile, daemonConfig(peer.url, { web: { role: ROLE_WEB, token: randomToken() } }));
});

after(async () => {
  await peer.close();
  dir.remove();
});

test('the child gets the service role through the endpoint, no keys in its environment, and its exit code is ours', {
  timeout: TEST_TIMEOUT_MS,
}, async () => {
  const { done } = run(
    ['exec', '--service', 'web', '--config', configFile, '--', process.execPath, '--input-type=module', '-e', CHILD, '7'],
    {
      AWS_ACCESS_KEY_ID: STS_PEER_BASE_KEY.accessKeyId,
      AWS_SECRET_ACCESS_KEY: STS_PEER_BASE_KEY.secretAccessKey,
      AWS_PROFILE: 'admin',
      // As the ECS agent sets it when the task has a role: every SDK would prefer it to FULL_URI.
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/task-role',
    },
  );
  const { code, stdout, stderr } = await done;
  assert.equal(code, 7, stderr);
  const seen = JSON.parse(stdout) as Record<string, unknown>;
  assert.match(String(seen.uri), /^http:\/\/127\.0\.0\.1:\d+\/v1\/credentials$/);
  assert.equal(seen.status, 200);
  assert.match(String(seen.accessKeyId), /^ASIA/);
  assert.equal(seen.roleArn, ROLE_WEB);
  assert.equal(seen.leaked, null);
  assert.equal(seen.profile, null);
  assert.equal(seen.sharedFile, '/dev/null');
  assert.equal(seen.relative, null, 'RELATIVE_URI is removed, so the SDKs use the FULL_URI exec sets');
  assert.equal(seen.region, 'us-east-1');
  assert.equal(peer.calls(ROLE_WEB), 1);
});

test('signals are forwarded to the child', { timeout: TEST_TIMEOUT_MS }, async () => {
  const script = "process.on('SIGTERM', () => process.exit(42)); console.log('ready'); setInterval(() => {}, 1000);";
  const { child, done } = run(['exec', '-s', 'web', '-c', configFile, '--', process.execPath, '-e', script]);
  await new Promise<void>((resolve) => child.stdout?.on('data', (c: Buffer) => c.toString().includes('ready') && resolve()));
  child.kill('SIGTERM');
  assert.equal((await done).code, 42);
});

test('an unknown service or an STS failure stops before the command runs', { timeout: TEST_TIMEOUT_MS }, async () => {
  const unknown = await run(['exec', '-s', 'ghost', '-c', configFile, '--', 'true']).done;
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no service named "ghost"/);
  peer.failure = 'access-denied';
  const denied = await run(['exec', '-s', 'web', '-c', configFile, '--', process.execPath, '-e', "console.log('ran')"]).done;
  peer.failure = undefined;
  assert.equal(denied.code, 1);
  assert.match(denied.stderr, /cannot get credentials for service "web": not authorized to perform sts:AssumeRole/);
  assert.doesNotMatch(denied.stdout, /ran/);
  const missing = await run(['exec', '-s', 'web', '-c', configFile, '--', 'no-such-command-sidekey']).done;
  assert.equal(missing.code, 127);
});

/**
 * Real AWS clients fetch credentials from the endpoint: the JS SDK v3 container providers
 * (fromHttp, fromContainerMetadata, the default chain) and the AWS CLI v2, with the token in the
 * environment or in a file. The credentials they get then sign a call the STS peer verifies.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromContainerMetadata, fromHttp } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@smithy/types';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { AWS_CLI, cliMissing } from '../helpers/aws-cli.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { runCli } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/wait-for.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig, ROLE_WEB, TOKEN_WEB } from './fixtures.js';

const run = promisify(execFile);
let peer: StsPeer;
let d: RunningDaemon;
let fullUri: string;
let tokenFile: string;
/** The token in tokenFile, made by `sidekey token`; it belongs to the service `made`. */
let tokenFileToken: string;

/** Only the variables a container would have: nothing that could lend the client other credentials. */
function containerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: d.dir, LANG: 'C.UTF-8' };
  return {
    ...env,
    AWS_CONFIG_FILE: join(d.dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(d.dir, 'none'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

async function whoAmI(credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>) | undefined): Promise<string> {
  const client = new STSClient({ region: 'us-east-1', endpoint: peer.url, ...(credentials ? { credentials } : {}) });
  try {
    return (await client.send(new GetCallerIdentityCommand({}))).Arn ?? '';
  } finally {
    client.destroy();
  }
}

before(async () => {
  peer = await startStsPeer();
  // A token file as a user makes it, `sidekey token > file`, read both by the daemon (the service
  // `made`'s auth_token_file) and by the SDKs (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE). The SDKs
  // send its content as it is: a line ending in it would fail them.
  const made = await runCli(['token']);
  assert.equal(made.code, 0, made.stderr);
  tokenFileToken = made.stdout;
  d = await startDaemon(
    daemonConfig(peer.url, { web: { role: ROLE_WEB, token: TOKEN_WEB }, made: { role: ROLE_WEB, tokenFile: 'container-token' } }),
    {
      files: { 'container-token': tokenFileToken },
    },
  );
  fullUri = `${d.url('credential-endpoint')}/v1/credentials`;
  tokenFile = join(d.dir, 'container-token');
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});

after(async () => {
  // A set-up that failed half-way (say, a refused config) must still close what it opened, or the run hangs.
  await d?.stop();
  await peer?.close();
  if (!d || !peer) return;
  assertNoSecrets(d.lines, [TOKEN_WEB, tokenFileToken, STS_PEER_BASE_KEY.secretAccessKey, ...peer.issuedSecrets()]);
});

test('JS SDK fromHttp with the token from options', async () => {
  const credentials = await fromHttp({ awsContainerCredentialsFullUri: fullUri, awsContainerAuthorizationToken: TOKEN_WEB })();
  assert.match(credentials.accessKeyId, /^ASIA/);
  assert.ok(credentials.expiration && credentials.expiration.getTime() - Date.now() > 15 * 60 * 1000);
  assert.equal(await whoAmI(credentials), 'arn:aws:sts::123456789012:assumed-role/web/sidekey-web');
});

test('JS SDK fromHttp with the token in a file (re-read on every fetch)', async () => {
  const credentials = await fromHttp({ awsContainerCredentialsFullUri: fullUri, awsContainerAuthorizationTokenFile: tokenFile })();
  assert.match(credentials.accessKeyId, /^ASIA/);
  assert.equal(await whoAmI(credentials), 'arn:aws:sts::123456789012:assumed-role/web/sidekey-made');
});

test('JS SDK fromHttp with a wrong token fails with the 401 Code', async () => {
  await assert.rejects(
    fromHttp({ awsContainerCredentialsFullUri: fullUri, awsContainerAuthorizationToken: randomToken(), maxRetries: 0 })(),
    (error: Error & { Code?: string }) => error.Code === 'Unauthorized',
  );
});

test('JS SDK fromHttp with the token sent as "Bearer <token>" is told to send the token alone', async () => {
  await assert.rejects(
    fromHttp({ awsContainerCredentialsFullUri: fullUri, awsContainerAuthorizationToken: `Bearer ${TOKEN_WEB}`, maxRetries: 0 })(),
    (error: Error & { Code?: string; Message?: string }) =>
      error.Code === 'Unauthorized' && (error.Message ?? '').includes('without "Bearer "'),
  );
});

test('with RELATIVE_URI and FULL_URI both set, JS fromHttp uses RELATIVE_URI (169.254.170.2), not sidekey', async () => {
  await assert.rejects(
    fromHttp({
      awsContainerCredentialsRelativeUri: '/v2/credentials/task-role',
      awsContainerCredentialsFullUri: fullUri,
      awsContainerAuthorizationToken: TOKEN_WEB,
      maxRetries: 0,
      timeout: 300,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    })(),
  );
});

test('JS SDK fromContainerMetadata and the default chain read the standard variables', async () => {
  const saved = { ...process.env };
  try {
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
    Object.assign(process.env, containerEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri, AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB }));
    const credentials = await fromContainerMetadata()();
    assert.match(credentials.accessKeyId, /^ASIA/);
    assert.equal(await whoAmI(undefined), 'arn:aws:sts::123456789012:assumed-role/web/sidekey-web', 'default chain');
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
});

/** Debian's awscli bundles its botocore here; releases before late 2023 ignore AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE. */
const DEBIAN_CLI_BOTOCORE = '/usr/lib/python3/dist-packages/awscli/botocore/credentials.py';
const cliTokenFile =
  cliMissing ||
  (existsSync(DEBIAN_CLI_BOTOCORE) && !readFileSync(DEBIAN_CLI_BOTOCORE, 'utf8').includes('AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE')
    ? 'this AWS CLI predates AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE support'
    : false);

test('AWS CLI v2 export-credentials with the token in the environment', { skip: cliMissing }, async () => {
  const env = containerEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri, AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB });
  const { stdout } = await run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env });
  const out = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(out.Version, 1);
  assert.match(String(out.AccessKeyId), /^ASIA/);
  assert.ok(String(out.SessionToken).length > 20);
  assert.ok(Date.parse(String(out.Expiration)) - Date.now() > 15 * 60 * 1000);
});

test('AWS CLI v2 export-credentials with the token in a file', { skip: cliTokenFile }, async () => {
  const env = containerEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile });
  const { stdout } = await run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env });
  assert.match(String((JSON.parse(stdout) as Record<string, unknown>).AccessKeyId), /^ASIA/);
});

test('AWS CLI v2 with the token sent as "Bearer <token>" shows the message to send the token alone', { skip: cliMissing }, async () => {
  const env = containerEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri, AWS_CONTAINER_AUTHORIZATION_TOKEN: `Bearer ${TOKEN_WEB}` });
  await assert.rejects(
    run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env }),
    (error: Error & { stderr?: string }) => /without \\?"Bearer \\?"/.test(error.stderr ?? ''),
  );
});

test('with RELATIVE_URI and FULL_URI both set, botocore uses RELATIVE_URI, not sidekey', { skip: cliMissing }, async () => {
  const both = containerEnv({
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/task-role',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB,
  });
  await assert.rejects(run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env: both, timeout: 30_000 }));
});

test('AWS CLI v2 export-credentials with a wrong token fails', { skip: cliMissing }, async () => {
  const wrong = containerEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri, AWS_CONTAINER_AUTHORIZATION_TOKEN: randomToken() });
  await assert.rejects(run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env: wrong }));
});

/**
 * The rows of docs/credential-endpoint.md's client matrix that can run here, each checked against
 * the real client: which `AWS_CONTAINER_CREDENTIALS_FULL_URI` hosts it accepts (a refusal is the
 * client's own validation error; an accepted host is tried, and served when it is sidekey's) and
 * whether it reads the token from a file. Clients: the JS SDK v3 as installed (`fromHttp`, from
 * @aws-sdk/credential-provider-http, and `fromContainerMetadata`, from @smithy/credential-provider-imds)
 * and Debian's AWS CLI v2 (its bundled botocore).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { fromContainerMetadata, fromHttp } from '@aws-sdk/credential-providers';
import { AWS_CLI, cliMissing } from '../helpers/aws-cli.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig, ROLE_WEB, TOKEN_WEB } from './fixtures.js';

const run = promisify(execFile);
type Verdict = 'accepted' | 'refused';
const HOSTS = ['127.0.0.1', 'localhost', '127.0.0.2', '[::1]', '169.254.170.23', '[fd00:ec2::23]'] as const;
type Host = (typeof HOSTS)[number];

/** What `fromContainerMetadata` and Debian's botocore accept: the two names they list, nothing else. */
const ONLY_LOCALHOST: Record<Host, Verdict> = {
  '127.0.0.1': 'accepted',
  localhost: 'accepted',
  '127.0.0.2': 'refused',
  '[::1]': 'refused',
  '169.254.170.23': 'refused',
  '[fd00:ec2::23]': 'refused',
};

/** The matrix rows, as docs/credential-endpoint.md publishes them. */
const EXPECTED: Record<'fromHttp' | 'fromContainerMetadata' | 'botocore', Record<Host, Verdict>> = {
  fromHttp: {
    '127.0.0.1': 'accepted',
    localhost: 'accepted',
    '127.0.0.2': 'accepted',
    '[::1]': 'accepted',
    '169.254.170.23': 'accepted',
    '[fd00:ec2::23]': 'accepted',
  },
  fromContainerMetadata: ONLY_LOCALHOST,
  botocore: ONLY_LOCALHOST,
};

let sts: StsPeer;
let d: RunningDaemon;
let port: number;
let tokenFile: string;

before(async () => {
  sts = await startStsPeer();
  d = await startDaemon(daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }));
  const address = d.address('credential-endpoint');
  port = address.kind === 'tcp' ? address.port : 0;
  tokenFile = join(d.dir, 'app.token');
  writeFileSync(tokenFile, TOKEN_WEB, { mode: 0o600 });
});
after(async () => {
  await d?.stop();
  await sts?.close();
});

const uri = (host: Host) => `http://${host}:${port}/v1/credentials`;

async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  try {
    for (const name of Object.keys(process.env)) if (name.startsWith('AWS_')) delete process.env[name];
    Object.assign(process.env, env);
    return await fn();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

/** 'refused' when the client's own URL check threw `refusal`; 'accepted' on success or any other error. */
async function verdict(attempt: () => Promise<unknown>, refusal: RegExp): Promise<Verdict> {
  try {
    await attempt();
    return 'accepted';
  } catch (error) {
    return refusal.test(String((error as Error).message)) ? 'refused' : 'accepted';
  }
}

test('JS SDK v3 fromHttp: the hosts it accepts, and a token file', async () => {
  for (const host of HOSTS) {
    const got = await verdict(
      () =>
        fromHttp({ awsContainerCredentialsFullUri: uri(host), awsContainerAuthorizationToken: TOKEN_WEB, maxRetries: 0, timeout: 300 })(),
      /URL not accepted/,
    );
    assert.equal(got, EXPECTED.fromHttp[host], host);
  }
  const fromFile = await fromHttp({ awsContainerCredentialsFullUri: uri('127.0.0.1'), awsContainerAuthorizationTokenFile: tokenFile })();
  assert.match(fromFile.accessKeyId, /^ASIA/);
});

test('JS SDK v3 fromContainerMetadata: the hosts it accepts; it reads the token from the environment only', async () => {
  for (const host of HOSTS) {
    const got = await withEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: uri(host), AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB }, () =>
      verdict(() => fromContainerMetadata({ timeout: 300 })(), /is not a valid container metadata service hostname/),
    );
    assert.equal(got, EXPECTED.fromContainerMetadata[host], host);
  }
  // With the token in a file only, it sends none: sidekey answers 401.
  await assert.rejects(
    withEnv({ AWS_CONTAINER_CREDENTIALS_FULL_URI: uri('127.0.0.1'), AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile }, () =>
      fromContainerMetadata({ timeout: 1000 })(),
    ),
  );
});

test("Debian's AWS CLI v2 (botocore): the hosts it accepts", { skip: cliMissing }, async () => {
  for (const host of HOSTS) {
    const env = {
      PATH: process.env.PATH,
      HOME: d.dir,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: uri(host),
      AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const got = await verdict(
      () => run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env, timeout: 30_000 }),
      // The CLI's message is on stderr, which execFile puts in the error's message.
      /Unsupported host/,
    );
    assert.equal(got, EXPECTED.botocore[host], host);
  }
});

/**
 * The first request for a service whose credentials are still being fetched, with an STS that
 * takes 2.5 s to answer: sidekey answers a retryable 503 within the SDKs' 1 s timeout instead of
 * holding the connection, and the SDKs that retry (JS v3 fromHttp, botocore) get the credentials
 * on a later attempt, served from the fetch that went on meanwhile.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { after, before, beforeEach, test } from 'node:test';
import { promisify } from 'node:util';
import { fromHttp } from '@aws-sdk/credential-providers';
import { COLD_ANSWER_MS } from '../../src/credential-endpoint/credential-request-handler.js';
import { AWS_CLI, cliMissing } from '../helpers/aws-cli.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig, getCredentials, ROLE_WEB, TOKEN_WEB } from './fixtures.js';

const run = promisify(execFile);
/** Slower than every SDK's container-provider timeout. */
const SLOW_STS_MS = 2500;
let sts: StsPeer;
let d: RunningDaemon;
let fullUri: string;

before(async () => {
  sts = await startStsPeer();
  d = await startDaemon(daemonConfig(sts.url, { web: { role: ROLE_WEB, token: TOKEN_WEB } }));
  fullUri = `${d.url('credential-endpoint')}/v1/credentials`;
});
after(async () => {
  await d?.stop();
  await sts?.close();
});

/** Each test starts cold: the service's credentials purged, and the next fetch slow. */
beforeEach(() => {
  sts.delayMs = SLOW_STS_MS;
  assert.equal(d.daemon.broker.disable('web'), true);
  assert.equal(d.daemon.broker.enable('web'), true);
});

test('a cold request is answered 503 with Retry-After within the SDK timeout, and served once the fetch lands', async () => {
  const started = performance.now();
  const cold = await getCredentials(d.url('credential-endpoint'), TOKEN_WEB);
  const took = performance.now() - started;
  assert.equal(cold.status, 503, cold.text);
  assert.equal(cold.json().Code, 'CredentialsUnavailable');
  assert.equal(cold.headers['retry-after'], '1');
  assert.ok(took >= COLD_ANSWER_MS - 50 && took < 1000, `answered in ${Math.round(took)} ms`);
  await waitFor(() => d.daemon.broker.ready(), 'the fetch to land', 2 * SLOW_STS_MS);
  assert.equal((await getCredentials(d.url('credential-endpoint'), TOKEN_WEB)).status, 200);
});

test('JS SDK fromHttp with its defaults gets the credentials through a slow first fetch', async () => {
  const credentials = await fromHttp({ awsContainerCredentialsFullUri: fullUri, awsContainerAuthorizationToken: TOKEN_WEB })();
  assert.match(credentials.accessKeyId, /^ASIA/);
});

test('AWS CLI v2 (botocore) gets the credentials through a slow first fetch', { skip: cliMissing }, async () => {
  const env = {
    PATH: process.env.PATH,
    HOME: d.dir,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: TOKEN_WEB,
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const { stdout } = await run(AWS_CLI, ['configure', 'export-credentials', '--format', 'process'], { env });
  assert.match(String((JSON.parse(stdout) as Record<string, unknown>).AccessKeyId), /^ASIA/);
});

/**
 * What `DurationSeconds: 900` (CredProxy's default) does to real clients. botocore treats
 * credentials with 15 minutes or less left as due for refresh, so with 900-second sessions it asks
 * the endpoint again before every API call; the JS SDK v3 refreshes 5 minutes before expiry, so it
 * asks once. With one-hour sessions both ask once. `sidekey check` and the daemon warn about the
 * 900-second case (`session-too-short`); this proves why.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromHttp } from '@aws-sdk/credential-providers';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig } from './fixtures.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
/** Debian's AWS CLI v2 carries its own botocore, importable by Debian's python3. */
const BOTOCORE = '/usr/lib/python3/dist-packages/awscli/botocore/session.py';
const botocoreMissing = existsSync(PYTHON) && existsSync(BOTOCORE) ? false : 'Debian awscli (its bundled botocore) is not installed';
const CALLS = 3;
const SHORT = { role: 'arn:aws:iam::123456789012:role/short', token: randomToken(), duration: 900 };
const HOUR = { role: 'arn:aws:iam::123456789012:role/hour', token: randomToken(), duration: 3600 };

/** Three GetCallerIdentity calls with one botocore session, whose credentials come from the endpoint. */
const BOTOCORE_CALLS = `
import sys
from awscli.botocore.session import Session
client = Session().create_client('sts', region_name='us-east-1', endpoint_url=sys.argv[1])
for _ in range(int(sys.argv[2])):
    client.get_caller_identity()
`;

let sts: StsPeer;
let d: RunningDaemon;

before(async () => {
  sts = await startStsPeer();
  d = await startDaemon(daemonConfig(sts.url, { short: SHORT, hour: HOUR }));
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});
after(async () => {
  await d?.stop();
  await sts?.close();
});

async function served(service: string): Promise<number> {
  const text = await d.daemon.metrics.render();
  return Number(new RegExp(`^sidekey_credential_requests_total\\{outcome="ok",service="${service}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

const fullUri = () => `${d.url('credential-endpoint')}/v1/credentials`;

test('botocore asks the endpoint before every call with 900-second sessions, once with one-hour ones', {
  skip: botocoreMissing,
}, async () => {
  for (const [service, spec, expected] of [
    ['short', SHORT, CALLS + 1],
    ['hour', HOUR, 1],
  ] as const) {
    const before = await served(service);
    const env = {
      PATH: process.env.PATH,
      HOME: d.dir,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri(),
      AWS_CONTAINER_AUTHORIZATION_TOKEN: spec.token,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    await run(PYTHON, ['-c', BOTOCORE_CALLS, sts.url, String(CALLS)], { env });
    assert.equal((await served(service)) - before, expected, `${service}: endpoint requests for ${CALLS} calls`);
  }
});

test('the JS SDK v3 asks once for several calls, with 900-second sessions as with one-hour ones', async () => {
  for (const [service, spec] of [
    ['short', SHORT],
    ['hour', HOUR],
  ] as const) {
    const before = await served(service);
    const client = new STSClient({
      region: 'us-east-1',
      endpoint: sts.url,
      credentials: fromHttp({ awsContainerCredentialsFullUri: fullUri(), awsContainerAuthorizationToken: spec.token }),
    });
    for (let i = 0; i < CALLS; i++) await client.send(new GetCallerIdentityCommand({}));
    client.destroy();
    assert.equal((await served(service)) - before, 1, service);
  }
});

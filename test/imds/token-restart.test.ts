/**
 * Per-caller IMDSv2 tokens across a daemon restart, with `imds.tokens_file`: a token issued before
 * the restart still serves the address it was issued to, while that address maps to the same
 * service, and nothing else; the file is 0600 and holds no token. Without the file, a restart
 * forgets every token (the behaviour the file exists to end). The STS and IMDS peers outlive the
 * daemons, as AWS does.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { daemonConfig } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { type ImdsPeer, startImdsPeer } from '../peers/imds-peer.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { rawGet } from './raw-http.js';

const ROLE_WEB = 'arn:aws:iam::123456789012:role/web-role';
const ROLE_WORKER = 'arn:aws:iam::123456789012:role/worker-role';
const CREDS = '/latest/meta-data/iam/security-credentials';
const TTL = 'X-aws-ec2-metadata-token-ttl-seconds: 21600';

let sts: StsPeer;
let peer: ImdsPeer;
const state = tempDir('sidekey-imds-state-');
const tokensFile = join(state.path, 'imds-tokens.json');

before(async () => {
  sts = await startStsPeer();
  peer = await startImdsPeer();
});
after(async () => {
  await peer?.close();
  await sts?.close();
  state.remove();
});

function config(web: string, withFile = true): string {
  return daemonConfig(
    sts.url,
    { web: { role: ROLE_WEB }, worker: { role: ROLE_WORKER } },
    {
      imds: {
        listen: '127.0.0.1:0',
        upstream: peer.url,
        callers: [
          { cidr: `${web}/32`, service: 'web' },
          { cidr: '127.0.0.3/32', service: 'worker' },
        ],
        ...(withFile ? { tokens_file: tokensFile } : {}),
      },
    },
  );
}

function guard(d: RunningDaemon) {
  const address = d.address('imds');
  const port = address.kind === 'tcp' ? address.port : 0;
  return (localAddress: string, target: string, lines: string[] = [], method = 'GET') =>
    rawGet(port, target, lines, { localAddress, method });
}

async function issue(d: RunningDaemon, localAddress: string): Promise<string> {
  const put = await guard(d)(localAddress, '/latest/api/token', [TTL], 'PUT');
  assert.equal(put.status, 200, put.body);
  return put.body;
}

test('a token issued before a restart serves the same address and service after it, and nothing else', async () => {
  const first = await startDaemon(config('127.0.0.2'));
  const token = await issue(first, '127.0.0.2');
  const header = `X-aws-ec2-metadata-token: ${token}`;
  assert.equal((await guard(first)('127.0.0.2', `${CREDS}/web-role`, [header])).status, 200);
  await waitFor(() => existsSync(tokensFile), 'the bindings file', 3000);
  await first.stop();
  assert.equal(statSync(tokensFile).mode & 0o777, 0o600);
  assert.ok(!readFileSync(tokensFile, 'utf8').includes(token), 'the file holds no token');

  const second = await startDaemon(config('127.0.0.2'));
  try {
    assert.ok(second.lines.some((l) => l.includes('IMDSv2 token bindings restored') && l.includes('"restored":1')));
    const served = await guard(second)('127.0.0.2', `${CREDS}/web-role`, [header]);
    assert.equal(served.status, 200, served.body);
    assert.equal(JSON.parse(served.body).AccessKeyId, (await second.daemon.broker.get('web')).accessKeyId);
    // Another address, even a mapped one, gets nothing with it.
    assert.equal((await guard(second)('127.0.0.3', `${CREDS}/worker-role`, [header])).status, 401);
  } finally {
    await second.stop();
  }

  // The address now maps to another service: the old token is refused there too.
  const moved = await startDaemon(config('127.0.0.4'));
  try {
    assert.equal((await guard(moved)('127.0.0.2', `${CREDS}/web-role`, [header])).status, 403, 'unmapped now');
  } finally {
    await moved.stop();
  }
});

test('without imds.tokens_file a restart forgets every token', async () => {
  const first = await startDaemon(config('127.0.0.5', false));
  const header = `X-aws-ec2-metadata-token: ${await issue(first, '127.0.0.5')}`;
  await first.stop();
  const second = await startDaemon(config('127.0.0.5', false));
  try {
    assert.equal((await guard(second)('127.0.0.5', `${CREDS}/web-role`, [header])).status, 401);
  } finally {
    await second.stop();
  }
});

test('a bindings file that group or others can read is refused at start, naming the fix', async () => {
  const loose = join(state.path, 'loose.json');
  writeFileSync(loose, JSON.stringify({ version: 1, bindings: [] }), { mode: 0o644 });
  const yaml = config('127.0.0.2').replace(JSON.stringify(tokensFile), JSON.stringify(loose));
  await assert.rejects(
    startDaemon(yaml),
    /imds\.tokens_file .*loose\.json has mode 0644: group and others must have no access \(chmod 600 /,
  );
});

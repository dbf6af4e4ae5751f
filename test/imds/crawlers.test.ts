/**
 * Crawlers through the guard's default preset. A listing no longer advertises what the guard
 * denies, so a client that walks the tree and gives up on the first error sees everything it may
 * read and nothing else. The crawler is cloud-init's own EC2 code (Debian's cloud-init package:
 * `cloudinit.sources.helpers.ec2`, as its EC2 datasource calls it), run by Debian's python3; and
 * Debian's ec2-metadata script, with only its IMDS address pointed at the guard.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/temp-dir.js';
import { PEER_INSTANCE_SECRETS } from '../peers/imds-peer.js';
import { assertNoInstanceSecret, assertNothingForbiddenReached, type GuardUnderTest, startGuard } from './guard-fixtures.js';
import { rawGet } from './raw-http.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const CLOUD_INIT_EC2 = '/usr/lib/python3/dist-packages/cloudinit/sources/helpers/ec2.py';
const cloudInitMissing = existsSync(CLOUD_INIT_EC2) ? false : 'Debian cloud-init is not installed (apt-get install cloud-init)';
const EC2_METADATA = '/usr/bin/ec2-metadata';
const ec2MetadataMissing = existsSync(EC2_METADATA) ? false : 'ec2-metadata is not installed (apt-get install amazon-ec2-utils)';

/** cloud-init's EC2 crawl of meta-data/ and dynamic/instance-identity, printed as JSON. */
const CRAWL = `
import json, sys
from cloudinit.sources.helpers import ec2
base = sys.argv[1]
print(json.dumps({
  'meta': ec2.get_instance_metadata('latest', base, timeout=5, retries=0),
  'identity': ec2.get_instance_identity('latest', base, timeout=5, retries=0),
}))
`;

let g: GuardUnderTest;
before(async () => {
  g = await startGuard();
});
after(() => g.stop());

const lines = (body: string) => body.split('\n').filter(Boolean);

test('listings drop what the default preset denies, and keep the rest as IMDS sent it', async () => {
  const root = await rawGet(g.port, '/latest/');
  assert.equal(root.status, 200);
  assert.ok(lines(root.body).includes('meta-data/'), root.body);
  assert.ok(!lines(root.body).includes('user-data'), `user-data advertised: ${root.body}`);
  const meta = await rawGet(g.port, '/latest/meta-data/');
  assert.ok(lines(meta.body).includes('instance-id'), meta.body);
  assert.ok(!lines(meta.body).some((entry) => entry.startsWith('iam')), `iam advertised: ${meta.body}`);
  assert.equal(Number(meta.headers['content-length']), Buffer.byteLength(meta.body), 'the length is the filtered body');
  const identity = await rawGet(g.port, '/latest/dynamic/instance-identity/');
  assert.deepEqual(lines(identity.body), ['document']);
  // A leaf is relayed as it is, even when it looks like a listing.
  assert.equal((await rawGet(g.port, '/latest/meta-data/instance-id')).status, 200);
  assertNothingForbiddenReached(g.peer);
});

test("cloud-init's EC2 crawler reads the whole allowed tree through the guard, and nothing denied", {
  skip: cloudInitMissing,
}, async () => {
  const { stdout } = await run(PYTHON, ['-c', CRAWL, `http://127.0.0.1:${g.port}`], { timeout: 60_000 });
  const crawled = JSON.parse(stdout) as { meta: Record<string, unknown>; identity: Record<string, unknown> };
  assert.ok(typeof crawled.meta['instance-id'] === 'string', `no instance-id in ${stdout.slice(0, 400)}`);
  assert.ok(crawled.meta.placement !== undefined, 'the crawl went into directories');
  assert.equal(crawled.meta.iam, undefined);
  assert.deepEqual(Object.keys(crawled.identity), ['document']);
  assertNoInstanceSecret(stdout, 'the crawl');
  for (const secret of Object.values(PEER_INSTANCE_SECRETS)) assert.ok(!stdout.includes(secret));
  assertNothingForbiddenReached(g.peer);
});

test('ec2-metadata (Debian amazon-ec2-utils) prints what the guard allows and "not available" for the rest', {
  skip: ec2MetadataMissing,
}, async () => {
  // The script's one address, 169.254.169.254, pointed at the guard; nothing else of it changes.
  const dir = tempDir('sidekey-ec2-metadata-');
  try {
    const script = join(dir.path, 'ec2-metadata');
    const original = readFileSync(EC2_METADATA, 'utf8');
    assert.match(original, /^METADATA_BASEURL="http:\/\/169\.254\.169\.254"$/m);
    writeFileSync(script, original.replace(/^METADATA_BASEURL=.*$/m, `METADATA_BASEURL="http://127.0.0.1:${g.port}"`), { mode: 0o700 });
    const { stdout } = await run('/bin/bash', [script, '--all'], { timeout: 60_000 });
    assert.match(stdout, /^instance-id: i-\w+$/m);
    assert.match(stdout, /^user-data: not available$/m);
    assertNoInstanceSecret(stdout, 'ec2-metadata');
    assertNothingForbiddenReached(g.peer);
  } finally {
    dir.remove();
  }
});

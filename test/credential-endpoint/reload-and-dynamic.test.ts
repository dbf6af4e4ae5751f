/**
 * SIGHUP-style reloads (harness.reload) and dynamic service files: new tokens and services take
 * effect, unchanged services keep their cached credentials, an invalid file is refused, and a bad
 * dynamic file is reported by file and key while the others keep working.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { freePort } from '../helpers/free-port.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { STS_PEER_BASE_KEY, type StsPeer, startStsPeer } from '../peers/sts-peer.js';
import { daemonConfig, getCredentials, ROLE_WEB, ROLE_WORKER, TOKEN_WEB, TOKEN_WORKER } from './fixtures.js';

const TOKEN_WORKER_NEW = randomToken();
const TOKEN_BATCH = randomToken();
const TOKEN_DYN = randomToken();
const TOKEN_DYN2 = randomToken();
const ROLE_BATCH = 'arn:aws:iam::123456789012:role/batch';
const ROLE_DYN = 'arn:aws:iam::123456789012:role/dyn';
const ALLOWED_ROLES = ['arn:aws:iam::123456789012:role/*'];
let peer: StsPeer;
let d: RunningDaemon;
let base: string;
let servicesDir: string;
const dynamicDir = tempDir('sidekey-dynamic-');

const config = (services: Parameters<typeof daemonConfig>[1]) =>
  daemonConfig(peer.url, services, {
    dynamic_services: { enabled: true, directories: [{ path: servicesDir }], reload_interval: 3600, allowed_role_arns: ALLOWED_ROLES },
  });

const dynamicFile = (token: string, role: string, extra = '') =>
  `services:\n  dyn-a:\n    auth_token: "${token}"\n    assumed_role:\n      RoleArn: "${role}"\n${extra}`;

before(async () => {
  peer = await startStsPeer();
  servicesDir = dynamicDir.path;
  writeFileSync(join(servicesDir, 'a.yaml'), dynamicFile(TOKEN_DYN, ROLE_DYN));
  writeFileSync(
    join(servicesDir, 'bad.yaml'),
    'services:\n  dyn-bad:\n    auth_token: "short"\n    assumed_role:\n      RoleArn: "arn:aws:iam::1:role/x"\n',
  );
  writeFileSync(
    join(servicesDir, 'clash.yaml'),
    `services:\n  web:\n    auth_token: "${randomToken()}"\n    assumed_role:\n      RoleArn: "${ROLE_DYN}"\n`,
  );
  writeFileSync(join(servicesDir, 'ignored.txt'), 'not yaml: [');
  d = await startDaemon(config({ web: { role: ROLE_WEB, token: TOKEN_WEB }, worker: { role: ROLE_WORKER, token: TOKEN_WORKER } }));
  base = d.url('credential-endpoint');
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
});

after(async () => {
  await d.stop();
  await peer.close();
  dynamicDir.remove();
  assertNoSecrets(d.lines, [
    TOKEN_WEB,
    TOKEN_WORKER,
    TOKEN_WORKER_NEW,
    TOKEN_BATCH,
    TOKEN_DYN,
    TOKEN_DYN2,
    STS_PEER_BASE_KEY.secretAccessKey,
    ...peer.issuedSecrets(),
  ]);
});

test('dynamic service files are served; a bad file is reported by file and key and the rest keep working', async () => {
  const dyn = await getCredentials(base, TOKEN_DYN);
  assert.equal(dyn.status, 200);
  assert.equal(dyn.json().RoleArn, ROLE_DYN);
  const refused = d.lines.filter((l) => l.includes('dynamic service file refused'));
  const bad = refused.find((l) => l.includes('bad.yaml'));
  assert.ok(bad, refused.join('\n'));
  assert.match(bad, /services\.dyn-bad\.auth_token: must be at least 32 characters/);
  assert.match(bad, /services\.dyn-bad\.assumed_role\.RoleArn: expected an IAM role ARN/);
  const clash = refused.find((l) => l.includes('clash.yaml'));
  assert.match(String(clash), /services\.web: a service named \\"web\\" is already defined in the main config/);
  assert.ok(!refused.some((l) => l.includes('ignored.txt')), 'files outside include_patterns are not read');
  assert.equal((await getCredentials(base, TOKEN_WEB)).json().RoleArn, ROLE_WEB, 'the main config wins a name clash');
});

test('a reload applies new tokens and services and keeps the cached credentials of unchanged services', async () => {
  const webKey = (await getCredentials(base, TOKEN_WEB)).json().AccessKeyId;
  const workerKey = (await getCredentials(base, TOKEN_WORKER)).json().AccessKeyId;
  const calls = { web: peer.calls(ROLE_WEB), worker: peer.calls(ROLE_WORKER) };
  const applied = await d.reload(
    config({
      web: { role: ROLE_WEB, token: TOKEN_WEB },
      worker: { role: ROLE_WORKER, token: TOKEN_WORKER_NEW },
      batch: { role: ROLE_BATCH, token: TOKEN_BATCH },
    }),
  );
  assert.equal(applied, true);
  assert.equal((await getCredentials(base, TOKEN_WEB)).json().AccessKeyId, webKey);
  assert.equal((await getCredentials(base, TOKEN_WORKER)).status, 401, 'the old token stops working');
  assert.equal((await getCredentials(base, TOKEN_WORKER_NEW)).json().AccessKeyId, workerKey, 'a token change keeps the credentials');
  assert.deepEqual({ web: peer.calls(ROLE_WEB), worker: peer.calls(ROLE_WORKER) }, calls);
  const batch = await getCredentials(base, TOKEN_BATCH);
  assert.equal(batch.status, 200);
  assert.equal(batch.json().RoleArn, ROLE_BATCH);
});

test('a reload that changes a role refetches that service only; a removed service is gone', async () => {
  const webKey = (await getCredentials(base, TOKEN_WEB)).json().AccessKeyId;
  const workerKey = (await getCredentials(base, TOKEN_WORKER_NEW)).json().AccessKeyId;
  await d.reload(
    config({ web: { role: ROLE_WEB, token: TOKEN_WEB, duration: 7200 }, worker: { role: ROLE_WORKER, token: TOKEN_WORKER_NEW } }),
  );
  const web = await getCredentials(base, TOKEN_WEB);
  assert.notEqual(web.json().AccessKeyId, webKey);
  assert.ok(Date.parse(String(web.json().Expiration)) - Date.now() > 100 * 60 * 1000, 'the new DurationSeconds applies');
  assert.equal((await getCredentials(base, TOKEN_WORKER_NEW)).json().AccessKeyId, workerKey);
  assert.equal((await getCredentials(base, TOKEN_BATCH)).status, 401);
});

test('an invalid config is refused on reload and the running one stays', async () => {
  assert.equal(await d.reload('services: {web: {auth_token: short}}'), false);
  assert.ok(d.lines.some((l) => l.includes('config reload refused')));
  assert.equal((await getCredentials(base, TOKEN_WEB)).status, 200);
});

test('a reload rescans the dynamic directories: changed, added and removed files', async () => {
  const current = { web: { role: ROLE_WEB, token: TOKEN_WEB, duration: 7200 }, worker: { role: ROLE_WORKER, token: TOKEN_WORKER_NEW } };
  writeFileSync(
    join(servicesDir, 'b.yaml'),
    `services:\n  dyn-b:\n    auth_token: "${TOKEN_DYN2}"\n    assumed_role:\n      RoleArn: "${ROLE_DYN}"\n`,
  );
  writeFileSync(join(servicesDir, 'a.yaml'), 'services: [broken');
  await d.reload(config(current));
  assert.equal((await getCredentials(base, TOKEN_DYN2)).status, 200, 'a new file is picked up');
  assert.equal((await getCredentials(base, TOKEN_DYN)).status, 200, 'a file that turns invalid keeps its last good version');
  assert.ok(d.lines.some((l) => l.includes('dynamic service file refused') && l.includes('a.yaml')));
  rmSync(join(servicesDir, 'a.yaml'));
  await d.reload(config(current));
  assert.equal((await getCredentials(base, TOKEN_DYN)).status, 401, 'a removed file removes its services');
});

test('a reload adds and removes endpoint listeners; an address that cannot be bound is reported and the rest applies', async () => {
  const services = { web: { role: ROLE_WEB, token: TOKEN_WEB }, worker: { role: ROLE_WORKER, token: TOKEN_WORKER_NEW } };
  const dynamic = { enabled: true, directories: [{ path: servicesDir }], reload_interval: 3600, allowed_role_arns: ALLOWED_ROLES };
  const withListeners = (listeners: string[]) => daemonConfig(peer.url, services, { server: { listeners }, dynamic_services: dynamic });
  const port = await freePort();
  const added = `http://127.0.0.1:${port}`;
  assert.equal(await d.reload(withListeners(['127.0.0.1:0', `127.0.0.1:${port}`])), true);
  assert.equal((await getCredentials(added, TOKEN_WEB)).status, 200, 'the added listener serves');
  assert.equal((await getCredentials(base, TOKEN_WEB)).status, 200, 'the kept one still serves');

  assert.equal(await d.reload(withListeners([`127.0.0.1:${port}`])), true);
  await assert.rejects(getCredentials(base, TOKEN_WEB), /ECONNREFUSED/, 'the removed listener stops accepting');
  assert.equal((await getCredentials(added, TOKEN_WEB)).status, 200);

  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const takenPort = (taken.address() as AddressInfo).port;
  assert.equal(await d.reload(withListeners([`127.0.0.1:${port}`, `127.0.0.1:${takenPort}`])), true);
  assert.ok(d.lines.some((l) => l.includes('could not be bound') && l.includes(`127.0.0.1:${takenPort}`)));
  assert.equal((await getCredentials(added, TOKEN_WEB)).status, 200, 'the listeners that could be kept still serve');
  await new Promise((resolve) => taken.close(resolve));
});

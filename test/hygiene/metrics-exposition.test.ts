/**
 * `/metrics` as Prometheus reads it: a real daemon with the credential endpoint, the secrets API and
 * the metadata guard serves a few requests of each, then its exposition is checked by Prometheus'
 * own `promtool check metrics` (Debian's prometheus package) and for the metrics users expect:
 * process and runtime metrics and the latency histograms of each front and each upstream call.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { TARGET_PARAM, TOKEN_PARAM } from '../../src/pg-proxy/session-params.js';
import { daemonConfig, getCredentials, httpRequest, ROLE_WEB, TOKEN_WEB } from '../credential-endpoint/fixtures.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { waitFor } from '../helpers/wait-for.js';
import { type ImdsPeer, startImdsPeer } from '../peers/imds-peer.js';
import { type StsPeer, startStsPeer } from '../peers/sts-peer.js';

const PROMTOOL = '/usr/bin/promtool';
const promtoolMissing = existsSync(PROMTOOL) ? false : `${PROMTOOL} is not installed: apt-get install prometheus`;
/** promtool's exit codes: 0 clean, 3 lint problems only (1 is a parse error). */
const PROMTOOL_LINT_ONLY = 3;

const ADMIN_TOKEN = randomToken();
const WRITER = randomToken();
let sts: StsPeer;
let imds: ImdsPeer;
let d: RunningDaemon;
let exposition: { contentType: string; text: string };

before(async () => {
  sts = await startStsPeer();
  imds = await startImdsPeer();
  d = await startDaemon(
    daemonConfig(
      sts.url,
      { web: { role: ROLE_WEB, token: TOKEN_WEB } },
      {
        admin: { listen: '127.0.0.1:0', token: ADMIN_TOKEN },
        secrets: {
          listen: '127.0.0.1:0',
          store: { type: 'sqlite', path: './data/secrets.db' },
          keyring: { type: 'local', key_file: './data/master.key' },
          tokens: [{ id: 'writer', token: WRITER, role: 'admin' }],
        },
        imds: { listen: '127.0.0.1:0', upstream: imds.url },
      },
    ),
  );
  await waitFor(() => d.daemon.broker.ready(), 'prefetch');
  assert.equal((await getCredentials(d.url('credential-endpoint'), TOKEN_WEB)).status, 200);
  const auth = { authorization: `Bearer ${WRITER}`, 'content-type': 'application/json' };
  const created = await fetch(`${d.url('secrets')}/latest/secrets/db`, {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ payload: 'v' }),
  });
  assert.equal(created.status, 200, await created.text());
  await httpRequest(`${d.url('imds')}/latest/meta-data/instance-id`);
  await httpRequest(`${d.url('imds')}/latest/user-data`);
  const answer = await httpRequest(`${d.url('admin')}/metrics`);
  assert.equal(answer.status, 200);
  exposition = { contentType: String(answer.headers['content-type']), text: answer.text };
});
after(async () => {
  await d?.stop();
  await imds?.close();
  await sts?.close();
});

test('promtool parses the exposition, and none of its lint problems is a sidekey metric', { skip: promtoolMissing }, () => {
  const checked = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition.text, encoding: 'utf8' });
  assert.ok(checked.status === 0 || checked.status === PROMTOOL_LINT_ONLY, `promtool exit ${checked.status}: ${checked.stderr}`);
  const problems = `${checked.stdout}${checked.stderr}`.split('\n').filter(Boolean);
  // prom-client's own runtime gauges end in _total (nodejs_active_handles_total): its names, not ours.
  assert.deepEqual(
    problems.filter((line) => line.startsWith('sidekey_')),
    [],
  );
});

test('the text format, the standard process and runtime metrics', () => {
  assert.match(exposition.contentType, /^text\/plain; version=0\.0\.4/);
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_open_fds',
    'nodejs_eventloop_lag_seconds',
    'nodejs_heap_size_used_bytes',
  ]) {
    assert.match(exposition.text, new RegExp(`^${name} \\d`, 'm'), name);
  }
});

test('latency histograms: each front, STS AssumeRole, the store and the keyring', () => {
  const counted = (series: string) => new RegExp(`^${series.replace(/[{}]/g, '\\$&')} ([1-9]\\d*)$`, 'm');
  for (const series of [
    'sidekey_request_duration_seconds_count{front="credential-endpoint",status="200"}',
    'sidekey_request_duration_seconds_count{front="secrets",status="200"}',
    'sidekey_request_duration_seconds_count{front="imds",status="200"}',
    'sidekey_request_duration_seconds_count{front="imds",status="403"}',
    'sidekey_sts_assume_role_duration_seconds_count{service="web",outcome="ok"}',
    'sidekey_secrets_store_duration_seconds_count{store="sqlite",operation="insert",outcome="ok"}',
    'sidekey_keyring_duration_seconds_count{provider="local",operation="generate_data_key",outcome="ok"}',
  ]) {
    assert.match(exposition.text, counted(series), series);
  }
  assert.match(exposition.text, /^sidekey_request_duration_seconds_bucket\{le="0\.0005",front="credential-endpoint",status="200"\} \d+$/m);
});

test('docs/metrics.md lists exactly the metrics src/ registers, and every one this daemon serves', () => {
  const root = new URL('../../../', import.meta.url).pathname;
  const sources = (dir: string): string[] =>
    readdirSync(dir).flatMap((entry) => {
      const path = join(dir, entry);
      return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [readFileSync(path, 'utf8')] : [];
    });
  const text = sources(join(root, 'src')).join('\n');
  // Every 'sidekey_...' literal in src names a metric but the Postgres startup parameters.
  const notMetrics = new Set([TARGET_PARAM, TOKEN_PARAM]);
  const registered = new Set([...text.matchAll(/'(sidekey_[a-z_]+)'/g)].map((m) => m[1] as string).filter((name) => !notMetrics.has(name)));
  const documented = new Set(
    [...readFileSync(join(root, 'docs', 'metrics.md'), 'utf8').matchAll(/^\| `(sidekey_[a-z_]+)` \|/gm)].map((m) => m[1] as string),
  );
  assert.deepEqual([...documented].sort(), [...registered].sort());
  const served = new Set([...exposition.text.matchAll(/^# TYPE (sidekey_[a-z_]+) /gm)].map((m) => m[1] as string));
  assert.deepEqual(
    [...served].filter((name) => !documented.has(name)),
    [],
  );
});

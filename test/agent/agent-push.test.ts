/**
 * Push for values kept in AWS: `secrets exec --agent` and `secrets render --agent` read Secrets
 * Manager secrets and Parameter Store parameters through a real daemon's agent API (the built CLI,
 * in child processes), and pick up a rotation once the agent's cache has it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { linesOf } from '../helpers/file-lines.js';
import { runCli, runCliInBackground } from '../helpers/run-cli.js';
import { waitFor } from '../helpers/wait-for.js';
import { type SecretsManagerPeer, SM_REGION, startSecretsManagerPeer } from '../peers/secretsmanager-peer.js';
import { type SsmPeer, startSsmPeer } from '../peers/ssm-peer.js';
import { baseKeyDefaults, STS_PEER_BASE_KEY } from '../peers/sts-peer.js';

const TOKEN = randomToken();
const TTL_SECONDS = 2;
let sm: SecretsManagerPeer;
let ssm: SsmPeer;
let d: RunningDaemon;
let tokenFile: string;

before(async () => {
  sm = await startSecretsManagerPeer([STS_PEER_BASE_KEY]);
  ssm = await startSsmPeer([STS_PEER_BASE_KEY]);
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = sm.url;
  process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
  d = await startDaemon(
    JSON.stringify({
      admin: { listen: '127.0.0.1:0' },
      aws_defaults: baseKeyDefaults(SM_REGION),
      agent: {
        listen: '127.0.0.1:0',
        ttl_seconds: TTL_SECONDS,
        tokens: [{ id: 'app', token: TOKEN, names: ['prod/*'], parameters: ['/prod/*'] }],
      },
    }),
    { files: { 'agent.token': TOKEN } },
  );
  tokenFile = join(d.dir, 'agent.token');
});
after(async () => {
  await d?.stop();
  await sm?.close();
  await ssm?.close();
  delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  delete process.env.AWS_ENDPOINT_URL_SSM;
});

const background = (args: string[]) => runCliInBackground(args, d.dir);
const agentFlags = () => ['--agent', d.url('agent'), '--token-file', tokenFile];

test('exec --agent --on-change restart: a rotated Secrets Manager secret restarts the command with the new value', async () => {
  sm.put('prod/web/db', 'pw-1');
  ssm.put('/prod/web/region', 'eu-west-1', 'String');
  const log = join(d.dir, 'exec.log');
  const script = `echo "$DB $REGION" >> ${log}; trap 'exit 0' TERM; while :; do sleep 0.1; done`;
  const run = background([
    'secrets',
    'exec',
    ...agentFlags(),
    '--env',
    'DB=prod/web/db',
    '--env',
    'REGION=ssm:/prod/web/region',
    '--on-change',
    'restart',
    '--',
    'sh',
    '-c',
    script,
  ]);
  const lines = () => linesOf(log);
  try {
    await waitFor(() => lines().length === 1, 'the first start', 10_000);
    assert.deepEqual(lines(), ['pw-1 eu-west-1'], run.stderr());
    sm.put('prod/web/db', 'pw-2');
    await waitFor(() => lines().includes('pw-2 eu-west-1'), 'the restart', 20_000);
    assert.deepEqual(lines(), ['pw-1 eu-west-1', 'pw-2 eu-west-1'], run.stderr());
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0, run.stderr());
});

test('exec --agent --env-from ssm:/PATH/ puts each parameter under the path in a variable named after it', async () => {
  ssm.put('/prod/app/db/host', 'db.internal', 'String');
  ssm.put('/prod/app/api-key', 'k-1');
  const out = join(d.dir, 'env-from.txt');
  const done = await runCli(
    ['secrets', 'exec', ...agentFlags(), '--env-from', 'ssm:/prod/app/', '--', 'sh', '-c', `echo "$DB_HOST $API_KEY" > ${out}`],
    { cwd: d.dir },
  );
  assert.equal(done.code, 0, done.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'db.internal k-1\n');
  const clash = await runCli(
    ['secrets', 'exec', ...agentFlags(), '--env-from', 'ssm:/prod/app/', '--env', 'API_KEY=prod/web/db', '--', 'true'],
    {
      cwd: d.dir,
    },
  );
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /API_KEY would come from both ssm:\/prod\/app\/api-key and prod\/web\/db/);
});

test('render --agent writes a parameter and a secret 0600 and re-renders when the parameter changes', async () => {
  sm.put('prod/web/api', 'key-1');
  ssm.put('/prod/web/host', 'db-1.internal', 'String');
  const template = join(d.dir, 'app.tmpl');
  const out = join(d.dir, 'app.env');
  writeFileSync(template, 'HOST={{ secret "ssm:/prod/web/host" }}\nAPI={{ secret "prod/web/api" }}\n');
  const run = background(['secrets', 'render', ...agentFlags(), '--template', template, '--out', out, '--watch']);
  try {
    await waitFor(() => existsSync(out), 'the first render', 10_000);
    assert.equal(readFileSync(out, 'utf8'), 'HOST=db-1.internal\nAPI=key-1\n');
    assert.equal(statSync(out).mode & 0o777, 0o600);
    ssm.put('/prod/web/host', 'db-2.internal', 'String');
    await waitFor(() => readFileSync(out, 'utf8').includes('db-2.internal'), 'the re-render', 20_000);
  } finally {
    run.child.kill('SIGTERM');
  }
  assert.equal(await run.exited, 0, run.stderr());
});

test("through the agent, a refusal is the agent's, said plainly; --agent and --endpoint together are refused", async () => {
  const refused = await runCli(['secrets', 'exec', ...agentFlags(), '--env', 'X=other/secret', '--', 'true'], { cwd: d.dir });
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /the agent API answered 400 for other\/secret \(AccessDeniedException: token "app" may not read secret/);
  const both = await runCli(['secrets', 'exec', ...agentFlags(), '--endpoint', 'http://127.0.0.1:1', '--env', 'X=prod/x', '--', 'true'], {
    cwd: d.dir,
  });
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--agent and --endpoint name two different APIs/);
});

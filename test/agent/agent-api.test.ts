/**
 * The Secrets Manager Agent's API as its users call it (curl with the SSRF token header), on a real
 * daemon whose agent front reads through the real AWS SDK client from a Secrets Manager peer that
 * verifies every signature. Covers both routes, the agent's refusals, sidekey's per-token names,
 * errors passed through, and the cache: 200 concurrent callers of a cold secret make one call.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/core/config/load-config.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { type SecretsManagerPeer, SM_REGION, startSecretsManagerPeer } from '../peers/secretsmanager-peer.js';
import { baseKeyDefaults, STS_PEER_BASE_KEY } from '../peers/sts-peer.js';

const run = promisify(execFile);
const WEB = randomToken();
const OPS = randomToken();
const DB_PASSWORD = `db-password-${randomToken(8)}`;
let peer: SecretsManagerPeer;
let d: RunningDaemon;
let base: string;

const configWith = (tokens: readonly Record<string, unknown>[]) =>
  JSON.stringify({
    admin: { listen: '127.0.0.1:0' },
    aws_defaults: baseKeyDefaults(SM_REGION),
    agent: { listen: '127.0.0.1:0', tokens },
  });

before(async () => {
  peer = await startSecretsManagerPeer([STS_PEER_BASE_KEY]);
  peer.put('prod/web/db', DB_PASSWORD);
  peer.put('prod/ops/root', 'ops-only');
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = peer.url;
  d = await startDaemon(
    configWith([
      { id: 'web', token: WEB, names: ['prod/web/*'] },
      { id: 'ops', token: OPS, names: ['*'] },
    ]),
  );
  const address = d.address('agent');
  base = `http://127.0.0.1:${address.kind === 'tcp' ? address.port : 0}`;
});
after(async () => {
  await d?.stop();
  await peer?.close();
  delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  assertNoSecrets(d.lines, [WEB, OPS, DB_PASSWORD]);
});

/** curl as code written for the agent calls it; resolves with the status and the body. */
async function curl(path: string, headers: string[] = [`X-Aws-Parameters-Secrets-Token: ${WEB}`], method = 'GET') {
  const { stdout } = await run('curl', [
    '-sS',
    '-X',
    method,
    ...headers.flatMap((h) => ['-H', h]),
    '-w',
    '\n%{http_code}',
    `${base}${path}`,
  ]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

test('both routes answer GetSecretValue JSON, as the agent does', async () => {
  const byQuery = await curl('/secretsmanager/get?secretId=prod/web/db');
  assert.equal(byQuery.status, 200, byQuery.body);
  const value = JSON.parse(byQuery.body) as Record<string, unknown>;
  assert.equal(value.Name, 'prod/web/db');
  assert.equal(value.ARN, peer.arnOf('prod/web/db'));
  assert.equal(value.SecretString, DB_PASSWORD);
  assert.deepEqual(value.VersionStages, ['AWSCURRENT']);
  assert.match(String(value.CreatedDate), /^\d+(\.\d+)?$/);
  const byPath = await curl(`/v1/${encodeURIComponent('prod/web/db')}`);
  assert.deepEqual(JSON.parse(byPath.body), value);
  assert.deepEqual(await curl('/ping', []), { status: 200, body: 'healthy' });
});

test("the agent's refusals: forwarded, bad token, method, path, query", async () => {
  assert.deepEqual(await curl('/secretsmanager/get?secretId=prod/web/db', []), { status: 403, body: 'Bad Token' });
  assert.deepEqual(await curl('/secretsmanager/get?secretId=prod/web/db', [`X-Aws-Parameters-Secrets-Token: ${randomToken()}`]), {
    status: 403,
    body: 'Bad Token',
  });
  assert.equal((await curl('/secretsmanager/get?secretId=prod/web/db', [`X-Vault-Token: ${WEB}`])).status, 200, 'its second header');
  const forwarded = await curl('/secretsmanager/get?secretId=prod/web/db', [
    `X-Aws-Parameters-Secrets-Token: ${WEB}`,
    'X-Forwarded-For: 10.0.0.1',
  ]);
  assert.deepEqual(forwarded, { status: 400, body: 'Forwarded' });
  // Header names in any case; a repeated token header is joined as node:http joins it, so it matches no token.
  assert.equal((await curl('/secretsmanager/get?secretId=prod/web/db', [`X-AWS-PARAMETERS-SECRETS-TOKEN: ${WEB}`])).status, 200);
  assert.deepEqual(
    await curl('/secretsmanager/get?secretId=prod/web/db', [`X-Aws-Parameters-Secrets-Token: ${WEB}`, 'x-forwarded-for: 10.0.0.1']),
    { status: 400, body: 'Forwarded' },
  );
  assert.deepEqual(
    await curl('/secretsmanager/get?secretId=prod/web/db', [
      `X-Aws-Parameters-Secrets-Token: ${WEB}`,
      `X-Aws-Parameters-Secrets-Token: ${WEB}`,
    ]),
    { status: 403, body: 'Bad Token' },
  );
  assert.equal(
    (await curl('/secretsmanager/get?secretId=prod/web/db', [`X-Aws-Parameters-Secrets-Token: ${randomToken()}`, `X-Vault-Token: ${WEB}`]))
      .status,
    403,
    'X-Vault-Token counts only without the SSRF header',
  );
  assert.deepEqual(await curl('/secretsmanager/get?secretId=prod/web/db', undefined, 'POST'), { status: 405, body: 'Not allowed' });
  assert.deepEqual(await curl('/ping', [], 'POST'), { status: 405, body: 'Not allowed' }, 'the health check is a GET too');
  assert.deepEqual(await curl('/elsewhere'), { status: 404, body: 'Not found' });
  // The agent's query parser answers its refusals as plain text, in the order the query gives them.
  for (const [path, message] of [
    ['/secretsmanager/get', 'missing parameter secretId'],
    ['/secretsmanager/get?secretId=', 'missing parameter secretId'],
    ['/secretsmanager/get?secretId=prod/web/db&x=1', 'unknown parameter: x'],
    ['/secretsmanager/get?secretId=prod/web/db&refreshNow=maybe', 'invalid refreshNow value'],
    ['/secretsmanager/get?refreshNow=2&x=1', 'invalid refreshNow value'],
    ['/v1/prod%2Fweb%2Fdb?secretId=prod/web/db', 'unknown parameter: secretId'],
    ['/v1/', 'missing secret ID'],
    // A NUL would let two queries share one cache key.
    ['/secretsmanager/get?secretId=prod/web/db%00x', 'invalid secretId: it contains a NUL character'],
    ['/secretsmanager/get?secretId=prod/web/db&versionStage=AWSCURRENT%00', 'invalid versionStage: it contains a NUL character'],
    ['/v1/prod%2Fweb%2Fdb?versionId=%00', 'invalid versionId: it contains a NUL character'],
  ] as const) {
    assert.deepEqual(await curl(path), { status: 400, body: message }, path);
  }
});

test('a malformed target is a 400, not a crash: the daemon keeps answering', async () => {
  const raw = (target: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1', () =>
        socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Aws-Parameters-Secrets-Token: ${WEB}\r\nConnection: close\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
  assert.match(await raw('/v1/%E0%A4%A'), /^HTTP\/1\.1 400 /);
  assert.match(await raw('http://[::1/x'), /^HTTP\/1\.1 400 /);
  // An absolute form names no route here: a 400 that says what a target must be.
  const absolute = await raw('http://127.0.0.1/secretsmanager/get?secretId=prod/web/db');
  assert.match(absolute, /^HTTP\/1\.1 400 /);
  assert.match(absolute, /must be a path, such as \/secretsmanager\/get/);
  assert.equal((await curl('/ping', [])).status, 200);
});

test("each token reads only its names; Secrets Manager's own errors pass through", async () => {
  const denied = await curl('/secretsmanager/get?secretId=prod/ops/root');
  assert.equal(denied.status, 400);
  assert.equal(JSON.parse(denied.body).__type, 'AccessDeniedException');
  assert.equal(peer.calls.includes('prod/ops/root'), false, 'a refused read never reaches Secrets Manager');
  const ops = await curl('/secretsmanager/get?secretId=prod/ops/root', [`X-Aws-Parameters-Secrets-Token: ${OPS}`]);
  assert.equal(JSON.parse(ops.body).SecretString, 'ops-only');
  const missing = await curl('/secretsmanager/get?secretId=prod/web/none');
  assert.equal(missing.status, 400);
  assert.deepEqual(JSON.parse(missing.body), {
    __type: 'ResourceNotFoundException',
    message: "Secrets Manager can't find the specified secret.",
  });
});

test('200 concurrent callers of a cold secret make one GetSecretValue; refreshNow asks again; stages are versions of their own', async () => {
  peer.put('prod/web/fleet', 'v1');
  peer.delayMs = 200;
  try {
    const answers = await Promise.all(
      Array.from({ length: 200 }, () =>
        fetch(`${base}/secretsmanager/get?secretId=prod/web/fleet`, { headers: { 'X-Aws-Parameters-Secrets-Token': WEB } }).then((r) =>
          r.json(),
        ),
      ),
    );
    assert.ok(answers.every((a) => (a as { SecretString: string }).SecretString === 'v1'));
  } finally {
    peer.delayMs = 0;
  }
  const calls = () => peer.calls.filter((id) => id === 'prod/web/fleet').length;
  assert.equal(calls(), 1);
  peer.put('prod/web/fleet', 'v2');
  assert.equal(JSON.parse((await curl('/secretsmanager/get?secretId=prod/web/fleet')).body).SecretString, 'v1', 'cached within the TTL');
  assert.equal(calls(), 1);
  assert.equal(JSON.parse((await curl('/secretsmanager/get?secretId=prod/web/fleet&refreshNow=true')).body).SecretString, 'v2');
  assert.equal(calls(), 2);
  // The agent reads a flag as true or 1, false or 0, in any case.
  for (const [flag, asked] of [
    ['1', 3],
    ['TRUE', 4],
    ['0', 4],
    ['False', 4],
  ] as const) {
    assert.equal((await curl(`/secretsmanager/get?secretId=prod/web/fleet&refreshNow=${flag}`)).status, 200, flag);
    assert.equal(calls(), asked, `refreshNow=${flag}`);
  }
  // A repeated parameter's last value wins, as in the agent's parser.
  const repeated = await curl('/secretsmanager/get?secretId=prod/ops/root&secretId=prod/web/fleet');
  assert.equal(JSON.parse(repeated.body).Name, 'prod/web/fleet', repeated.body);
  const previous = await curl('/secretsmanager/get?secretId=prod/web/fleet&versionStage=AWSPREVIOUS');
  assert.equal(JSON.parse(previous.body).SecretString, 'v1');
});

test('the agent section is validated like every other: each problem with its key path', () => {
  const dir = tempDir('sidekey-agent-config-');
  try {
    const file = join(dir.path, 'sidekey.yaml');
    writeFileSync(file, `agent:\n  ttl_seconds: -1\n  tokens:\n    - { id: web, token: "${randomToken()}", names: ["prod web"] }\n`);
    assert.throws(
      () => loadConfig(file),
      (error: Error) => /agent\.ttl_seconds/.test(error.message) && /agent\.tokens\[0\]\.names\[0\]/.test(error.message),
    );
    writeFileSync(file, 'agent:\n  tokens: []\n');
    assert.throws(() => loadConfig(file), /agent\.tokens/);
    const token = randomToken();
    writeFileSync(file, `agent:\n  tokens:\n    - { id: web, token: "${token}" }\n`);
    assert.throws(() => loadConfig(file), /agent\.tokens\[0\].*must list the secrets \(names\) or parameters/);
    writeFileSync(file, `agent:\n  tokens:\n    - { id: web, token: "${token}", parameters: ["/prod/*"], service: nosuch }\n`);
    assert.throws(() => loadConfig(file), /agent\.tokens\[0\]\.service.*no service named "nosuch"/);
    writeFileSync(file, `admin:\n  token: "${token}"\nagent:\n  tokens:\n    - { id: web, token: "${token}", names: ["*"] }\n`);
    assert.throws(() => loadConfig(file), /agent\.tokens\[0\]\.token is the same token as admin\.token/);
  } finally {
    dir.remove();
  }
});

test('a reload applies new tokens and names at once; a token taken out is refused', async () => {
  const next = randomToken();
  try {
    assert.equal(
      await d.reload(
        configWith([
          { id: 'web', token: WEB, names: ['prod/ops/*'] },
          { id: 'next', token: next, names: ['prod/web/*'] },
        ]),
      ),
      true,
    );
    assert.equal(
      JSON.parse((await curl('/secretsmanager/get?secretId=prod/web/db', [`X-Aws-Parameters-Secrets-Token: ${next}`])).body).SecretString,
      DB_PASSWORD,
    );
    assert.equal(
      JSON.parse((await curl('/secretsmanager/get?secretId=prod/web/db')).body).__type,
      'AccessDeniedException',
      "web's new names",
    );
    assert.deepEqual(await curl('/secretsmanager/get?secretId=prod/ops/root', [`X-Aws-Parameters-Secrets-Token: ${OPS}`]), {
      status: 403,
      body: 'Bad Token',
    });
  } finally {
    await d.reload(
      configWith([
        { id: 'web', token: WEB, names: ['prod/web/*'] },
        { id: 'ops', token: OPS, names: ['*'] },
      ]),
    );
  }
});

test('every answered read and every refusal is one audit line naming the token, never its value', async () => {
  const auditOf = (event: string) =>
    d.lines.filter((l) => l.includes(`"audit":"${event}"`)).map((l) => JSON.parse(l) as Record<string, unknown>);
  const before = auditOf('agent.fetch').length;
  for (let i = 0; i < 3; i++) assert.equal((await curl('/secretsmanager/get?secretId=prod/web/db')).status, 200);
  const reads = auditOf('agent.fetch').slice(before);
  assert.equal(reads.length, 3, 'cached reads are audited too');
  for (const line of reads) {
    assert.equal(line.actor, 'web');
    assert.equal(line.secret_id, 'prod/web/db');
    assert.equal(line.outcome, 'ok');
  }
  assert.equal((await curl('/secretsmanager/get?secretId=prod/ops/root')).status, 400);
  const denied = auditOf('agent.denied').at(-1);
  assert.equal(denied?.actor, 'web');
  assert.equal(denied?.secret_id, 'prod/ops/root');
});

/**
 * Each check has a config that triggers it and one that does not. The clean base config yields no
 * finding at all; each case changes one thing. No finding ever contains a token.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import type { CheckId, Finding } from '../../src/core/hygiene/finding.js';
import { type CheckOptions, runChecks } from '../../src/core/hygiene/run-checks.js';
import { materialize } from './example-config.js';

const ROLE = 'arn:aws:iam::123456789012:role/WebAppRole';
const CLEAN = `
services:
  web-app:
    auth_token: \${fromFile:/run/secrets/web-app-token}
    assumed_role: { RoleArn: ${ROLE} }
admin:
  token: \${fromFile:/run/secrets/admin-token}
imds: {}
`;
const SAFE: CheckOptions = { env: {}, uid: 1338, online: false };

async function findings(yaml: string, options: Parameters<typeof materialize>[1] = {}, check: CheckOptions = SAFE): Promise<Finding[]> {
  const m = materialize(yaml, options);
  try {
    return await runChecks(m.loaded, check);
  } finally {
    m.remove();
  }
}

const ids = (list: readonly Finding[]) => list.map((f) => f.id);
const withId = (list: readonly Finding[], id: CheckId) => list.filter((f) => f.id === id);

/** `yaml` with a block appended, or one line replaced. */
const plus = (extra: string) => `${CLEAN}${extra}`;

test('the clean base config has no finding', async () => {
  assert.deepEqual(await findings(CLEAN), []);
});

describe('tokens', () => {
  test('token-weak: the seed-style hand-made token fails, a random one passes', async () => {
    const weak = 'web-app-secure-token-2025-abc123def456';
    const list = await findings(CLEAN, { files: { 'web-app-token': weak } });
    assert.deepEqual(ids(list), ['token-weak']);
    assert.equal(list[0]?.path, 'services.web-app.auth_token');
    assert.ok(!JSON.stringify(list).includes(weak));
    assert.deepEqual(await findings(CLEAN, { files: { 'web-app-token': randomToken() } }), []);
  });

  test('token-weak: a short token in auth_token_file fails (the schema cannot see file contents)', async () => {
    const yaml = CLEAN.replace('auth_token: ${fromFile:/run/secrets/web-app-token}', 'auth_token_file: /run/secrets/web-app-token');
    const list = await findings(yaml, { files: { 'web-app-token': 'Zk3p9Q' } });
    assert.deepEqual(ids(list), ['token-weak']);
    assert.match(list[0]?.message ?? '', /shorter than 32/);
    assert.deepEqual(await findings(yaml), []);
  });

  test('token-reused: a service token file holding the admin token fails, without printing it', async () => {
    const shared = randomToken();
    const fromFile = CLEAN.replace('auth_token: ${fromFile:/run/secrets/web-app-token}', 'auth_token_file: /run/secrets/web-app-token');
    const list = await findings(fromFile, { files: { 'web-app-token': shared, 'admin-token': shared } });
    assert.deepEqual(ids(list), ['token-reused']);
    assert.match(list[0]?.path ?? '', /services\.web-app\.auth_token_file, admin\.token/);
    assert.ok(!JSON.stringify(list).includes(shared));
  });

  test('token-reused: the same value in a service token and admin.token is already a config error', async () => {
    const shared = randomToken();
    assert.throws(
      () => materialize(CLEAN, { files: { 'web-app-token': shared, 'admin-token': shared } }),
      (error: Error) =>
        /admin\.token is the same token as services\.web-app\.auth_token/.test(error.message) && !error.message.includes(shared),
    );
  });

  test('secret-inline: a literal token or password fails; ${fromFile:} and ${fromEnv:} pass', async () => {
    const literal = randomToken();
    const list = await findings(CLEAN.replace('${fromFile:/run/secrets/web-app-token}', literal));
    assert.deepEqual(ids(list), ['secret-inline']);
    assert.ok(!JSON.stringify(list).includes(literal));
    const pg = plus(
      `postgres:\n  targets:\n    db:\n      host: db.internal\n      user: app\n      auth: { password: hunter2-literal }\n`,
    );
    assert.deepEqual(
      withId(await findings(pg), 'secret-inline').map((f) => f.path),
      ['postgres.targets.db.auth.password'],
    );
    const env = CLEAN.replace('${fromFile:/run/secrets/web-app-token}', '${fromEnv:WEB_APP_TOKEN}');
    assert.deepEqual(await findings(env, { env: { WEB_APP_TOKEN: randomToken() } }), []);
  });

  test("token-file-newline: a service's token file ending in a newline warns, naming the file and the fix", async () => {
    const token = randomToken();
    const asFile = CLEAN.replace('auth_token: ${fromFile:/run/secrets/web-app-token}', 'auth_token_file: /run/secrets/web-app-token');
    for (const [yaml, path] of [
      [asFile, 'services.web-app.auth_token_file'],
      [CLEAN, 'services.web-app.auth_token'],
    ] as const) {
      const list = await findings(yaml, { files: { 'web-app-token': `${token}\n` } });
      assert.deepEqual(ids(list), ['token-file-newline'], JSON.stringify(list));
      assert.equal(list[0]?.path, path);
      assert.match(list[0]?.message ?? '', /web-app-token ends in a newline: .*botocore refuses the token \("not a legal header value"\)/);
      assert.match(list[0]?.fix ?? '', /printf '%s'/);
      assert.ok(!JSON.stringify(list).includes(token));
      assert.deepEqual(await findings(yaml, { files: { 'web-app-token': token } }), [], 'no newline, no finding');
    }
    // The admin token is read by sidekey alone: its newline is nobody's problem.
    assert.deepEqual(await findings(CLEAN, { files: { 'admin-token': `${token}\n` } }), []);
  });

  test('secret-file-missing: an auth_token_file that does not exist', async () => {
    const yaml = CLEAN.replace('auth_token: ${fromFile:/run/secrets/web-app-token}', 'auth_token_file: /nonexistent/sidekey/web-app-token');
    assert.deepEqual(ids(await findings(yaml)), ['secret-file-missing']);
  });
});

describe('files', () => {
  test('file-permissions: a token file readable by others fails; 0600 passes', async () => {
    const list = await findings(CLEAN, { mode: 0o644 });
    assert.deepEqual(ids(list), ['file-permissions', 'file-permissions']);
    assert.match(list[0]?.message ?? '', /mode 0644/);
    assert.deepEqual(await findings(CLEAN, { mode: 0o600 }), []);
    assert.deepEqual(await findings(CLEAN, { mode: 0o400 }), []);
  });

  test('file-permissions-group: group-readable (a Kubernetes fsGroup) is a warning', async () => {
    const list = await findings(CLEAN, { mode: 0o640 });
    assert.deepEqual([...new Set(ids(list))], ['file-permissions-group']);
    assert.ok(list.every((f) => f.severity === 'warn'));
  });
});

describe('listeners', () => {
  test('listener-exposed: every interface or a LAN address without TLS fails; loopback and unix pass', async () => {
    const all = await findings(plus('server:\n  listeners: ["0.0.0.0:1338"]\n'));
    assert.deepEqual(ids(all), ['listener-exposed']);
    assert.equal(all[0]?.path, 'server.listeners[0]');
    const adminLan = await findings(CLEAN.replace('admin:\n', 'admin:\n  listen: 10.0.0.5:9090\n'));
    assert.deepEqual(
      adminLan.map((f) => `${f.id} ${f.path}`),
      ['listener-exposed admin.listen'],
    );
    assert.deepEqual(await findings(plus('server:\n  listeners: ["127.0.0.1:1338", "unix:/run/sidekey/creds.sock"]\n')), []);
    const agent = (listen: string) =>
      plus(
        `agent:\n  listen: ${listen}\n  tokens:\n    - { id: web, token: "\${fromFile:/run/secrets/web-agent-token}", names: ["prod/*"] }\n`,
      );
    const agentLan = await findings(agent('0.0.0.0:2773'));
    assert.deepEqual(
      agentLan.map((f) => `${f.id} ${f.path}`),
      ['listener-exposed agent.listen'],
    );
    assert.match(agentLan[0]?.message ?? '', /agent tokens and the secret and parameter values they read cross the network in clear text/);
    assert.deepEqual(await findings(agent('127.0.0.1:2773')), []);
  });

  test('agent-token-unscoped: an agent token that lists * warns, naming the key; a prefix passes', async () => {
    const token = (lists: string) =>
      plus(`agent:\n  tokens:\n    - { id: web, token: "\${fromFile:/run/secrets/web-agent-token}", ${lists} }\n`);
    const wide = await findings(token('names: ["prod/*"], parameters: ["*"]'));
    assert.deepEqual(
      wide.map((f) => `${f.id} ${f.severity} ${f.path}`),
      ['agent-token-unscoped warn agent.tokens[0].parameters[0]'],
    );
    assert.match(wide[0]?.message ?? '', /agent token "web" may read every parameter the daemon's own credentials can read/);
    assert.deepEqual(await findings(token('names: ["prod/*"], parameters: ["/prod/web/*"]')), []);
  });

  test('listener-container-endpoint: the ECS address is reported as information', async () => {
    const list = await findings(plus('server:\n  listeners: ["169.254.170.2:80"]\n'));
    assert.deepEqual(ids(list), ['listener-container-endpoint']);
    assert.equal(list[0]?.severity, 'info');
  });
});

describe('postgres', () => {
  const target = (tls: string) =>
    plus(`postgres:\n  targets:\n    db:\n      host: db.internal\n      user: app\n      tls: { mode: ${tls} }\n`);
  test('pg-tls-unverified: require and verify-ca fail, verify-full passes', async () => {
    for (const mode of ['require', 'verify-ca']) {
      const list = await findings(target(mode));
      assert.deepEqual(ids(list), ['pg-tls-unverified'], mode);
      assert.equal(list[0]?.path, 'postgres.targets.db.tls.mode');
    }
    assert.deepEqual(await findings(target('verify-full')), []);
  });
});

describe('metadata guard', () => {
  test('imds-guard-absent: no imds section warns', async () => {
    const list = await findings(CLEAN.replace('imds: {}\n', ''));
    assert.deepEqual(ids(list), ['imds-guard-absent']);
    assert.equal(list[0]?.severity, 'warn');
  });

  test('imds-fallback-role: per-caller mode that maps no address to a service the endpoint serves warns', async () => {
    const withCallers = (service: string) => CLEAN.replace('imds: {}', `imds:\n  callers: [{ cidr: 172.17.0.5/32, service: ${service} }]`);
    const worker = `  worker:\n    auth_token: \${fromFile:/run/secrets/worker-token}\n    assumed_role: { RoleArn: ${ROLE} }\n`;
    const twoServices = (yaml: string) => yaml.replace('admin:\n', `${worker}admin:\n`);
    const list = await findings(twoServices(withCallers('web-app')));
    assert.deepEqual(ids(list), ['imds-fallback-role']);
    assert.match(list[0]?.message ?? '', /services worker are served by the credential endpoint but no imds\.callers entry maps to them/);
    assert.deepEqual(await findings(withCallers('web-app')), [], 'every service is mapped');
    assert.deepEqual(await findings(twoServices(CLEAN)), [], 'no per-caller mode');
  });

  test('imds-user-data-allowed and imds-credentials-allowed: allow rules that re-open what the presets deny', async () => {
    const allow = (rules: string[]) => CLEAN.replace('imds: {}', `imds:\n  allow: ${JSON.stringify(rules)}`);
    assert.deepEqual(ids(await findings(allow(['/latest/user-data']))), ['imds-user-data-allowed']);
    assert.deepEqual(ids(await findings(allow(['/2021-07-15/user-data/*']))), ['imds-user-data-allowed']);
    assert.deepEqual(ids(await findings(allow(['/latest/meta-data/iam/*']))), ['imds-credentials-allowed']);
    assert.deepEqual(ids(await findings(allow(['/*'])).then((l) => l.sort((a, b) => a.id.localeCompare(b.id)))), [
      'imds-credentials-allowed',
      'imds-user-data-allowed',
    ]);
    assert.deepEqual(
      await findings(allow(['/latest/meta-data/instance-id', '/latest/meta-data/placement/*', '/latest/meta-data/iam/info'])),
      [],
    );
  });
});

describe('process and credentials', () => {
  test('running-as-root: uid 0 fails, 1338 passes', async () => {
    assert.deepEqual(ids(await findings(CLEAN, {}, { ...SAFE, uid: 0 })), ['running-as-root']);
    assert.deepEqual(await findings(CLEAN, {}, { ...SAFE, uid: 1338 }), []);
  });

  test('admin-api-off: no admin token is noted', async () => {
    assert.deepEqual(ids(await findings(CLEAN.replace('admin:\n  token: ${fromFile:/run/secrets/admin-token}\n', ''))), ['admin-api-off']);
  });

  test('long-lived-credentials: access keys in the config or the environment, not with a session token', async () => {
    const keys = (extra: string) =>
      plus(
        `aws_defaults:\n  iam_keys:\n    aws_access_key_id: \${fromFile:/run/secrets/key-id}\n    aws_secret_access_key: \${fromFile:/run/secrets/key-secret}\n${extra}`,
      );
    const list = await findings(keys(''));
    assert.deepEqual(ids(list), ['long-lived-credentials']);
    assert.equal(list[0]?.path, 'aws_defaults.iam_keys');
    assert.deepEqual(await findings(keys('    aws_session_token: ${fromFile:/run/secrets/session}\n')), []);
    const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE000000001', AWS_SECRET_ACCESS_KEY: randomToken() };
    assert.deepEqual(ids(await findings(CLEAN, {}, { ...SAFE, env })), ['long-lived-credentials']);
    assert.deepEqual(await findings(CLEAN, {}, { ...SAFE, env: { ...env, AWS_SESSION_TOKEN: randomToken() } }), []);
  });

  test('session-too-short: 900 s sessions, a 600 s refresh buffer, or a session no longer than the buffer', async () => {
    const role = (extra: string) => CLEAN.replace(`assumed_role: { RoleArn: ${ROLE} }`, `assumed_role: { RoleArn: ${ROLE}${extra} }`);
    assert.deepEqual(
      (await findings(role(', DurationSeconds: 900'))).map((f) => `${f.id} ${f.path}`),
      ['session-too-short services.web-app.assumed_role.DurationSeconds'],
    );
    assert.deepEqual(ids(await findings(role(', DurationSeconds: 1800'))), ['session-too-short']);
    assert.deepEqual(
      (await findings(plus('credentials:\n  refresh_buffer_seconds: 600\n'))).map((f) => f.path),
      ['credentials.refresh_buffer_seconds'],
    );
    assert.deepEqual(await findings(role(', DurationSeconds: 3600')), []);
    // A buffer as long as the session: refreshed at half-life, handed out with 1800 s left: fine.
    assert.deepEqual(
      await findings(
        plus('credentials:\n  refresh_buffer_seconds: 3600\n').replace(
          `assumed_role: { RoleArn: ${ROLE} }`,
          `assumed_role: { RoleArn: ${ROLE}, DurationSeconds: 3600 }`,
        ),
      ),
      [],
    );
  });
});

/** `sidekey check`, `policy` and `setup --template` as a user runs them (the built CLI, a child process). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { runCli } from '../helpers/run-cli.js';
import { materialize, materializeExample } from './example-config.js';

/** The CLI on a machine with nothing configured: only PATH in its environment. */
const sidekey = (args: string[]) => runCli(args, { cleanEnv: true });

test('sidekey check: exit 1 on a failure, JSON with ids, and no secret printed', async () => {
  const literal = 'web-app-secure-token-2025-abc123def456';
  const m = materialize(
    `services:\n  web-app:\n    auth_token: ${literal}\n    assumed_role: { RoleArn: arn:aws:iam::123456789012:role/Web }\nserver:\n  listeners: ["0.0.0.0:1338"]\n`,
  );
  try {
    const json = await sidekey(['check', '--config', m.file, '--format', 'json', '--offline']);
    assert.equal(json.code, 1, json.stderr);
    const report = JSON.parse(json.stdout) as { summary: { fail: number }; findings: { id: string }[] };
    // running-as-root depends on who runs the tests, so it is left out of the comparison.
    assert.deepEqual(
      new Set(report.findings.map((f) => f.id).filter((id) => id !== 'running-as-root')),
      new Set(['token-weak', 'secret-inline', 'listener-exposed', 'imds-guard-absent', 'admin-api-off']),
    );
    assert.ok(!json.stdout.includes(literal));
    const text = await sidekey(['check', '--config', m.file, '--offline']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^FAIL token-weak at services\.web-app\.auth_token$/m);
    assert.ok(!text.stdout.includes(literal));
    assert.equal((await sidekey(['check', '--config', m.file, '--format', 'xml'])).code, 2);
  } finally {
    m.remove();
  }
});

test('sidekey check: the recommended example passes (exit 0)', async () => {
  const m = materializeExample('sidekey.yaml');
  try {
    const result = await sidekey(['check', '--config', m.file, '--offline']);
    const rootOk = process.getuid?.() !== 0;
    if (rootOk) assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /0 failures|1 failure/);
  } finally {
    m.remove();
  }
});

test('sidekey policy and sidekey setup --template print parseable documents; a bad name exits 1 naming the rule', async () => {
  const m = materializeExample('aws-backends.yaml');
  try {
    const policy = await sidekey(['policy', '--config', m.file, '--account-id', '123456789012']);
    assert.equal(policy.code, 0, policy.stderr);
    assert.ok((JSON.parse(policy.stdout) as { policies: unknown[] }).policies.length >= 3);
    const template = await sidekey(['setup', '--template', '--config', m.file, '--environment', 'prod', '--owner', 'platform']);
    assert.equal(template.code, 0, template.stderr);
    const parsed = parse(template.stdout) as { Resources: Record<string, { Properties: { TableName?: string } }> };
    assert.equal(parsed.Resources.SecretsTable?.Properties.TableName, 'sidekey-cryptex-secrets');
    const bad = await sidekey(['setup', '--template', '--environment', 'prod; rm -rf']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--environment "prod; rm -rf" must not contain shell metacharacters/);
    const noPrincipals = await sidekey(['setup', '--deploy', '--application', 'cryptex']);
    assert.equal(noPrincipals.code, 2);
    assert.match(noPrincipals.stderr, /--admin-principal/);
  } finally {
    m.remove();
  }
});

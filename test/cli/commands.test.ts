import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tokenOutput } from '../../src/cli/commands/token.js';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
after(() => dir.remove());

test('token prints a fresh URL-safe token of at least 32 characters, with no line ending when redirected', async () => {
  const a = await runCli(['token']);
  const b = await runCli(['token']);
  assert.equal(a.code, 0);
  // stdout is a pipe here, as in `sidekey token > file`: the file must hold the token and nothing else.
  assert.match(a.stdout, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a.stdout, b.stdout);
  assert.equal(tokenOutput('abc', { isTTY: true }), 'abc\n', 'a terminal still gets its line ending');
});

test('validate says ok for a good file and exits 0', async () => {
  const file = join(dir.path, 'good.yaml');
  writeFileSync(file, 'logging:\n  level: warn\n');
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /good\.yaml: ok/);
});

test('validate prints every problem with file, line and key path, and exits 1', async () => {
  const file = join(dir.path, 'bad.yaml');
  writeFileSync(file, 'loging:\n  level: info\nservices:\n  Bad_Name: {}\nadmin:\n  listen: nowhere\n');
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /bad\.yaml: 3 problems:/);
  assert.match(result.stderr, /line 1: loging: unknown key \(did you mean "logging"\?\)/);
  assert.match(result.stderr, /services\.Bad_Name: invalid name/);
  assert.match(result.stderr, /line 6: admin\.listen: expected HOST:PORT/);
});

test('validate on a missing file says so and exits 1', async () => {
  const result = await runCli(['validate', '--config', join(dir.path, 'missing.yaml')]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /cannot read config file .*missing\.yaml \(ENOENT\)/);
});

test('an unknown command or option is a usage error (exit 2)', async () => {
  assert.equal((await runCli(['frobnicate'])).code, 2);
  assert.equal((await runCli(['validate', '--nope'])).code, 2);
});

test('init on a missing or malformed config says what is wrong and where, and creates nothing', async () => {
  const missing = await runCli(['init', '--config', join(dir.path, 'missing.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^sidekey: cannot read config file .*missing\.yaml \(ENOENT\)\n$/);
  const file = join(dir.path, 'broken-init.yaml');
  writeFileSync(file, 'services:\n  web:\n    auth_token: "${fromFile:broken/web.token}"\n    x: [\n');
  const broken = await runCli(['init', '--config', file]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /broken-init\.yaml: 1 problem:\n {2}line 5, column 1: /);
  assert.doesNotMatch(broken.stderr, /unexpected error/);
  assert.equal(existsSync(join(dir.path, 'broken')), false, 'nothing is created from a file that does not parse');
});

test('a config with more YAML aliases than allowed is refused as a config problem', async () => {
  const file = join(dir.path, 'aliases.yaml');
  const anchors = ['a: &a [x]', ...Array.from({ length: 120 }, (_, i) => `k${i}: *a`)].join('\n');
  writeFileSync(file, `${anchors}\n`);
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /aliases\.yaml: 1 problem:\n {2}.*alias/i);
  assert.doesNotMatch(result.stderr, /unexpected error/);
});

test('init creates missing token files 0600 in 0700 directories and never overwrites', async () => {
  const file = join(dir.path, 'init.yaml');
  writeFileSync(
    file,
    [
      'services:',
      '  web:',
      '    auth_token: "${fromFile:state/tokens/web.token}"',
      '    assumed_role: { RoleArn: "arn:aws:iam::123456789012:role/Web" }',
      '  api:',
      '    auth_token: "${fromFile:state/tokens/api.token}"',
      '    assumed_role: { RoleArn: "arn:aws:iam::123456789012:role/Api" }',
    ].join('\n'),
  );
  mkdirSync(join(dir.path, 'state/tokens'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir.path, 'state/tokens/api.token'), 'existing-token-value-that-is-long-enough-0001\n', { mode: 0o600 });
  const result = await runCli(['init', '--config', file]);
  assert.equal(result.code, 0, result.stderr);
  const web = join(dir.path, 'state/tokens/web.token');
  assert.equal(statSync(web).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir.path, 'state/tokens')).mode & 0o777, 0o700);
  assert.match(readFileSync(web, 'utf8'), /^[A-Za-z0-9_-]{43}$/, 'the token and no line ending');
  assert.equal(readFileSync(join(dir.path, 'state/tokens/api.token'), 'utf8'), 'existing-token-value-that-is-long-enough-0001\n');
  assert.doesNotMatch(result.stderr, /[A-Za-z0-9_-]{43}/, 'init never prints a token');
  const validated = await runCli(['validate', '--config', file]);
  assert.equal(validated.code, 0, validated.stderr);
});

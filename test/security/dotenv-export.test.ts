/**
 * `secrets export --format dotenv` left backticks unescaped, so sourcing the file ran a
 * command chosen by whoever wrote the value. Values with every shell-special character are stored
 * through the real CLI, exported, and the file is sourced by sh, bash and dash: each variable must
 * come back byte for byte, and no command may run.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/run-cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('sidekey-dotenv-');
const marker = join(dir.path, 'ran');
const touch = `touch ${marker}`;
const values: Record<string, string> = {
  backtick: `\`${touch}\``,
  dollar: `$(${touch})`,
  variable: '$HOME ${HOME} $0 $$ $?',
  quotes: `it's "quoted" '' ''' \\' \\"`,
  backslash: '\\ \\\\ \\n \\t \\\n',
  separators: `a; ${touch} & ${touch} | ${touch} && ${touch} || ${touch}`,
  redirects: `> ${marker} < /etc/passwd >> ${marker} 2>&1`,
  globs: '* ? [a-z] ~ ~root {a,b} !! !$ # not a comment',
  lines: `first\nsecond\n${touch}\n\r\ttab\n`,
  unicode: 'naïve – 日本 \u2028 \u00a0',
  'trailing-newline': 'value\n\n',
  'just-quote': "'",
};
const shells = ['sh', 'bash', 'dash'];

before(() => {
  writeFileSync(join(dir.path, 'sidekey.yaml'), 'secrets: {}\n');
});
after(() => dir.remove());

test('a dotenv export sourced by sh, bash and dash sets every value exactly and runs nothing', async () => {
  for (const [name, payload] of Object.entries(values)) {
    // From a file, read byte for byte (stdin drops one trailing newline).
    writeFileSync(join(dir.path, 'payload'), payload);
    const created = await runCli(['secrets', 'create', '--name', name, '--payload-location', 'payload'], { cwd: dir.path });
    assert.equal(created.code, 0, created.stderr);
  }
  const exported = await runCli(['secrets', 'export', '--format', 'dotenv'], { cwd: dir.path });
  assert.equal(exported.code, 0, exported.stderr);
  const envFile = join(dir.path, 'secrets.env');
  writeFileSync(envFile, exported.stdout, { mode: 0o600 });
  const names = Object.keys(values).map((n) => n.toUpperCase().replaceAll('-', '_'));
  for (const shell of shells) {
    // Each variable printed NUL-terminated, so line breaks inside values survive the round trip.
    const script = `. "${envFile}"; for v in ${names.join(' ')}; do eval "printf '%s\\\\0' \\"\\$$v\\""; done`;
    const out = execFileSync(shell, ['-c', script], { cwd: dir.path, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).toString('utf8');
    const got = out.split('\0').slice(0, -1);
    assert.deepEqual(got, Object.values(values), `${shell} read back other values`);
    assert.equal(existsSync(marker), false, `sourcing in ${shell} ran a command`);
  }
});

test('a value with a NUL byte is refused for dotenv, with a clear message', async () => {
  const created = await runCli(['secrets', 'create', '--name', 'nul'], { cwd: dir.path, input: 'a\0b' });
  assert.equal(created.code, 0, created.stderr);
  const exported = await runCli(['secrets', 'export', '--format', 'dotenv', '--name', 'nul'], { cwd: dir.path });
  assert.notEqual(exported.code, 0);
  assert.match(exported.stderr, /secret "nul" contains a NUL byte and cannot be exported as dotenv; use --format json/);
});

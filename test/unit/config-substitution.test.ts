import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { MAX_SUBSTITUTION_DEPTH, type SubstitutionRecord, substituteString } from '../../src/core/config/substitute.js';
import { isSidekeyError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
after(() => dir.remove());
writeFileSync(join(dir.path, 'token'), 'file-token-value\n');
writeFileSync(join(dir.path, 'crlf'), 'crlf-value\r\n');
writeFileSync(join(dir.path, 'two-newlines'), 'value\n\n');
writeFileSync(join(dir.path, 'inject'), '${fromEnv:HOME}');
const env = { APP: 'web', TOKEN_DIR: dir.path, EMPTY: '' };
const options = { baseDir: dir.path, env };

test('fromEnv and fromFile resolve anywhere in a string', () => {
  assert.equal(substituteString('pre-${fromEnv:APP}-post', 'k', options), 'pre-web-post');
  assert.equal(substituteString('${fromFile:token}', 'k', options), 'file-token-value');
  assert.equal(substituteString('${fromEnv:EMPTY}', 'k', options), '');
  assert.equal(substituteString('no references', 'k', options), 'no references');
});

test('exactly one trailing newline is trimmed from a file', () => {
  assert.equal(substituteString('${fromFile:crlf}', 'k', options), 'crlf-value');
  assert.equal(substituteString('${fromFile:two-newlines}', 'k', options), 'value\n');
});

test('references nest, and relative paths resolve against the config directory', () => {
  assert.equal(substituteString('${fromFile:${fromEnv:TOKEN_DIR}/token}', 'k', options), 'file-token-value');
});

test('a value read from a file is never expanded again', () => {
  assert.equal(substituteString('${fromFile:inject}', 'k', options), '${fromEnv:HOME}');
});

test('$${ is a literal ${', () => {
  assert.equal(substituteString('a$${fromEnv:APP}', 'k', options), 'a${fromEnv:APP}');
});

test('nesting deeper than the limit is refused', () => {
  let text = 'APP';
  for (let i = 0; i <= MAX_SUBSTITUTION_DEPTH; i++) text = `\${fromEnv:${text}}`;
  assert.throws(() => substituteString(text, 'services.a.auth_token', options), /nest deeper than 4/);
});

test('failures name the key path and what is missing, as catalogued errors', () => {
  const cases: [string, RegExp][] = [
    ['${fromEnv:NOT_SET_ANYWHERE}', /^services\.a\.auth_token: environment variable NOT_SET_ANYWHERE is not set/],
    ['${fromFile:missing-file}', /^services\.a\.auth_token: cannot read .*missing-file .*ENOENT/],
    ['${fromEnv:1BAD}', /not a valid environment variable name/],
    ['${fromEnv:APP', /missing its closing \}/],
    ['${nope:x}', /unknown reference \$\{nope\.\.\.\}/],
    ['${fromFile:}', /needs a path/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(
      () => substituteString(text, 'services.a.auth_token', options),
      (error: unknown) => isSidekeyError(error, 'CONFIG_SUBSTITUTION') && pattern.test(error.message),
      text,
    );
  }
});

test('an unreadable file is reported with its errno', { skip: process.getuid?.() === 0 ? 'root reads mode-000 files' : false }, () => {
  const file = join(dir.path, 'unreadable');
  writeFileSync(file, 'x');
  chmodSync(file, 0o000);
  assert.throws(() => substituteString(`\${fromFile:${file}}`, 'k', options), /EACCES/);
});

test('every reference is recorded with its key path (for sidekey check)', () => {
  const records: SubstitutionRecord[] = [];
  substituteString('${fromEnv:APP}:${fromFile:token}', 'x.y', { ...options, records });
  assert.deepEqual(
    records.map((r) => [r.keyPath, r.source]),
    [
      ['x.y', 'env'],
      ['x.y', 'file'],
    ],
  );
  assert.equal(records[1]?.ref, join(dir.path, 'token'));
});

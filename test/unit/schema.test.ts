import assert from 'node:assert/strict';
import { test } from 'node:test';
import { suggest } from '../../src/core/config/did-you-mean.js';
import { obj, record, tagged } from '../../src/core/config/mapping-schemas.js';
import { arr, int, oneOf, optional, str, validate, withDefault } from '../../src/core/config/schema.js';
import { cidrProblem, nameProblem } from '../../src/core/config/validators.js';

test('did-you-mean finds typos, case and separator slips, and not unrelated words', () => {
  const keys = ['auth_token', 'assumed_role', 'source_credentials'];
  assert.equal(suggest('auth-token', keys), 'auth_token');
  assert.equal(suggest('AuthToken', keys), 'auth_token');
  assert.equal(suggest('asumed_role', keys), 'assumed_role');
  assert.equal(suggest('completely_different', keys), undefined);
});

test('name rules: each failure says which rule', () => {
  assert.equal(nameProblem('web-app-2'), undefined);
  assert.match(nameProblem('') ?? '', /must not be empty/);
  assert.match(nameProblem('a'.repeat(64)) ?? '', /at most 63/);
  assert.match(nameProblem('../../../etc') ?? '', /path traversal/);
  assert.match(nameProblem('prod; rm -rf /') ?? '', /path traversal|shell metacharacters/);
  assert.match(nameProblem('prod;rm') ?? '', /shell metacharacters/);
  assert.match(nameProblem('Prod') ?? '', /lowercase/);
  assert.match(nameProblem('web_app') ?? '', /only lowercase letters, digits and hyphens/);
  assert.match(nameProblem('-web') ?? '', /start and end with a letter or digit/);
  assert.match(nameProblem('web-') ?? '', /start and end/);
});

test('CIDR rules', () => {
  assert.equal(cidrProblem('10.0.0.0/16'), undefined);
  assert.equal(cidrProblem('172.17.0.5/32'), undefined);
  assert.equal(cidrProblem('fd00:ec2::/64'), undefined);
  assert.match(cidrProblem('10.0.0.0/33') ?? '', /longer than \/32/);
  assert.match(cidrProblem('192.168.0.0/8') ?? '', /host bits set/);
  assert.match(cidrProblem('10.0.0.0') ?? '', /expected a CIDR block/);
  assert.match(cidrProblem('300.0.0.0/8') ?? '', /not an IP address/);
});

test('objects: required keys, defaults, unknown keys and nested paths', () => {
  const schema = obj({ name: str({ min: 1 }), port: withDefault(int({ min: 1, max: 65535 }), 80), tags: optional(arr(str())) });
  assert.deepEqual(validate(schema, { name: 'x' }), { ok: true, value: { name: 'x', port: 80 } });
  const bad = validate(schema, { port: 0, tags: ['a', 3], extra: 1 });
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.deepEqual(bad.issues.map((i) => i.path).sort(), ['extra', 'name', 'port', 'tags[1]']);
});

test('records check their key names', () => {
  const schema = record(int(), { key: { pattern: /^[a-z]+$/, expected: 'lowercase letters' } });
  const bad = validate(schema, { good: 1, 'Bad!': 2 });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.issues[0]?.message ?? '', /invalid name "Bad!": expected lowercase letters/);
});

test('tagged unions pick the variant by their tag and hint at typos', () => {
  const schema = tagged('type', { sqlite: obj({ path: str() }), dynamodb: obj({ table: str() }) });
  assert.deepEqual(validate(schema, { type: 'sqlite', path: 'a.db' }), { ok: true, value: { type: 'sqlite', path: 'a.db' } });
  const bad = validate(schema, { type: 'sqlit', path: 'a.db' });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.issues[0]?.message ?? '', /did you mean "sqlite"/);
  const wrongKey = validate(schema, { type: 'dynamodb', path: 'a.db' });
  assert.equal(wrongKey.ok, false);
});

test('enumerations hint at near misses', () => {
  const bad = validate(oneOf(['verify-full', 'verify-ca']), 'verify-ful');
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.issues[0]?.message ?? '', /did you mean "verify-full"/);
});

test('secret strings are never echoed', () => {
  const bad = validate(str({ secret: true, pattern: /^x+$/ }), 'hunter2-hunter2');
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.doesNotMatch(bad.issues[0]?.message ?? '', /hunter2/);
});

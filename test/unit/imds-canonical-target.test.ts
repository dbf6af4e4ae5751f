import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalizeTarget, isVersionSegment, MAX_TARGET_BYTES } from '../../src/core/imds/canonical-target.js';

const reason = (raw: string) => {
  const result = canonicalizeTarget(raw);
  return result.ok ? `ok:${result.path}` : result.reason;
};

test('canonical targets keep case, decode unreserved escapes, and record the trailing slash', () => {
  const result = canonicalizeTarget('/latest/meta-data/Instance%2did/');
  assert.ok(result.ok);
  assert.equal(result.path, '/latest/meta-data/Instance-id/');
  assert.equal(result.key, '/latest/meta-data/instance-id/');
  assert.deepEqual(result.segments, ['latest', 'meta-data', 'Instance-id']);
  assert.equal(result.trailingSlash, true);
  assert.equal(reason('/'), 'ok:/');
  assert.equal(
    reason('/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/'),
    'ok:/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/',
  );
  assert.equal(reason('/latest/meta-data/public-keys/0=my+key,x@y'), 'ok:/latest/meta-data/public-keys/0=my+key,x@y');
});

test('every ambiguous form is refused with its reason', () => {
  const cases: [string, string][] = [
    ['http://169.254.169.254/latest', 'not-origin-form'],
    ['*', 'not-origin-form'],
    ['/a\\b', 'backslash'],
    ['/a?b', 'query'],
    ['/a#b', 'fragment'],
    ['/a;b', 'path-parameter'],
    ['/a b', 'control-or-non-ascii'],
    ['/a\x00', 'control-or-non-ascii'],
    ['/a\x7f', 'control-or-non-ascii'],
    ['/a\xe9', 'control-or-non-ascii'],
    ['/a"b', 'character'],
    ['/a<b', 'character'],
    ['/a!b', 'character'],
    ['/a%', 'malformed-escape'],
    ['/a%4', 'malformed-escape'],
    ['/a%g1', 'malformed-escape'],
    ['/a%2fb', 'encoded-separator'],
    ['/a%5Cb', 'encoded-separator'],
    ['/a%2e', 'encoded-dot'],
    ['/a%252e', 'double-encoding'],
    ['/a%3f', 'encoded-character'],
    ['/a%00', 'encoded-character'],
    ['/a%C3%A9', 'encoded-character'],
    ['//a', 'repeated-slash'],
    ['/a//b', 'repeated-slash'],
    ['/a/./b', 'dot-segment'],
    ['/a/../b', 'dot-segment'],
    ['/a/..', 'dot-segment'],
    ['/a/.../b', 'dot-segment'],
    [`/${'a'.repeat(MAX_TARGET_BYTES)}`, 'too-long'],
    [`/${'a/'.repeat(40)}`, 'too-long'],
  ];
  for (const [raw, expected] of cases) assert.equal(reason(raw), expected, JSON.stringify(raw));
});

test('version segments', () => {
  for (const v of ['latest', '1.0', '2009-04-04', '2021-07-15']) assert.equal(isVersionSegment(v), true, v);
  for (const v of ['Latest', '2.0', '2009-4-4', 'meta-data', '']) assert.equal(isVersionSegment(v), false, v);
});

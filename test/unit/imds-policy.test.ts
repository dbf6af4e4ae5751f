import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalizeTarget } from '../../src/core/imds/canonical-target.js';
import { ImdsPolicy } from '../../src/core/imds/imds-policy.js';
import { compilePathPattern, pathPatternProblem } from '../../src/core/imds/path-pattern.js';

const decide = (policy: ImdsPolicy, raw: string) => {
  const target = canonicalizeTarget(raw);
  if (!target.ok) throw new Error(`not canonical: ${raw}`);
  const d = policy.decide(target);
  return `${d.effect} ${d.rule}`;
};

test('path patterns: * segments, trailing rest, trailing-slash insensitivity, case folding', () => {
  const p = compilePathPattern('/*/meta-data/iam/*');
  for (const key of ['/latest/meta-data/iam', '/latest/meta-data/iam/', '/1.0/meta-data/iam/info', '/x/meta-data/iam/a/b/c'])
    assert.equal(p.matches(key), true, key);
  for (const key of ['/latest/meta-data/iamx', '/meta-data/iam/info', '/a/b/meta-data/iam/info']) assert.equal(p.matches(key), false, key);
  const exact = compilePathPattern('/Latest/Meta-Data/Instance-Id');
  assert.equal(exact.matches('/latest/meta-data/instance-id'), true);
  assert.equal(exact.matches('/latest/meta-data/instance-id/'), true);
  assert.equal(exact.matches('/latest/meta-data/instance-idx'), false);
  const prefix = compilePathPattern('/*/user-data*');
  assert.equal(prefix.matches('/latest/user-data'), true);
  assert.equal(prefix.matches('/latest/user-data-x/y'), true);
  assert.equal(compilePathPattern('/').matches('/'), true);
  assert.equal(compilePathPattern('/').matches('/latest'), false);
  assert.equal(compilePathPattern('/*').matches('/anything/at/all'), true);
  const dots = compilePathPattern('/latest/meta-data/a.b');
  assert.equal(dots.matches('/latest/meta-data/axb'), false, 'a dot is literal');
});

test('path pattern problems', () => {
  for (const bad of ['latest', '/a//b', '/a/../b', '/a/x*y/c', '/a*b', '/a?b', '/a\\b', '']) assert.ok(pathPatternProblem(bad), bad);
  for (const good of ['/', '/*', '/latest/meta-data/tags/*', '/*/meta-data/placement/region', '/latest/user-data*'])
    assert.equal(pathPatternProblem(good), undefined, good);
});

test('default preset: the seed rules and more, under every version; the rest passes', () => {
  const policy = new ImdsPolicy({ preset: 'default', allow: [], deny: [] });
  assert.equal(decide(policy, '/latest/meta-data/iam/security-credentials/role'), 'deny floor:instance-credentials');
  assert.equal(decide(policy, '/2009-04-04/meta-data/iam/security-credentials/'), 'deny floor:instance-credentials');
  assert.equal(decide(policy, '/latest/meta-data/iam/security-credentials-extended/role'), 'deny floor:instance-credentials');
  assert.equal(decide(policy, '/latest/meta-data/identity-credentials/ec2/info'), 'deny floor:identity-credentials');
  assert.equal(decide(policy, '/latest/meta-data/iam/info'), 'deny default:iam-info');
  assert.equal(decide(policy, '/latest/meta-data/iam/'), 'deny default:iam');
  assert.equal(decide(policy, '/1.0/user-data'), 'deny default:user-data');
  assert.equal(decide(policy, '/latest/dynamic/instance-identity/pkcs7'), 'deny default:identity-pkcs7');
  assert.equal(decide(policy, '/latest/dynamic/instance-identity/signature'), 'deny default:identity-signature');
  assert.equal(decide(policy, '/latest/dynamic/instance-identity/document'), 'allow default:allow-rest');
  assert.equal(decide(policy, '/latest/meta-data/instance-id'), 'allow default:allow-rest');
  assert.equal(decide(policy, '/LATEST/USER-DATA'), 'deny default:user-data');
});

test('strict preset: only the allow-list; config deny wins over everything, config allow never opens the floor', () => {
  const strict = new ImdsPolicy({
    preset: 'strict',
    allow: ['/latest/meta-data/tags/*', '/*/meta-data/iam/*'],
    deny: ['/latest/meta-data/placement/*'],
  });
  assert.equal(decide(strict, '/latest/meta-data/instance-id'), 'allow strict:instance-id');
  assert.equal(decide(strict, '/latest/api/token'), 'allow strict:token');
  assert.equal(
    decide(strict, '/latest/meta-data/network/interfaces/macs/0e:49:61:0f:c3:11/local-ipv4s'),
    'allow strict:network-interfaces',
  );
  assert.equal(decide(strict, '/latest/meta-data/'), 'deny strict:deny-rest');
  assert.equal(decide(strict, '/latest/meta-data/tags/instance/Name'), 'allow config-allow:/latest/meta-data/tags/*');
  assert.equal(decide(strict, '/latest/meta-data/placement/region'), 'deny config-deny:/latest/meta-data/placement/*');
  assert.equal(decide(strict, '/latest/meta-data/iam/info'), 'allow config-allow:/*/meta-data/iam/*');
  assert.equal(decide(strict, '/latest/meta-data/iam/security-credentials/x'), 'deny floor:instance-credentials');
  assert.ok(strict.ruleNames().includes('strict:deny-rest'));
});

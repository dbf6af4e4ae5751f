/**
 * The per-target verdict cache: keyed by the exact raw target under its method, so a cached
 * canonical spelling never answers for an ambiguous one; the cached verdict is what deciding from
 * scratch gives; the cache stays bounded under a flood of distinct targets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ImdsPolicy } from '../../src/core/imds/imds-policy.js';
import { decideTarget, MAX_CACHED_TARGET_BYTES, MAX_CACHED_TARGETS, TargetVerdicts } from '../../src/imds-guard/target-verdicts.js';

const policy = () => new ImdsPolicy({ preset: 'default', allow: [], deny: ['/latest/meta-data/tags/*'] });

/** `refuse:RULE`, `deny:RULE` or `allow:RULE` for a verdict, as the handler would act on it (no headers, no callers). */
function outcome(verdicts: TargetVerdicts, method: string, raw: string): string {
  const v = verdicts.get(method, raw);
  if (v.refusal !== undefined) return `refuse:${v.refusal.rule}`;
  const denied = v.configDeny ?? v.policyDeny;
  return denied ? `deny:${denied.rule}` : `allow:${v.allowRule}`;
}

test('every spelling is its own key: ambiguous spellings stay refused after the canonical one is cached', () => {
  const verdicts = new TargetVerdicts(policy(), false);
  const creds = '/latest/meta-data/iam/security-credentials/role';
  const spellings: [string, string][] = [
    [creds, 'deny:floor:instance-credentials'],
    ['/latest/meta-data/iam/security-credentials/role/', 'deny:floor:instance-credentials'],
    ['/latest/meta-data/IAM/security-credentials/role', 'deny:floor:instance-credentials'],
    ['/latest/meta-data/iam/security%2Dcredentials/role', 'deny:floor:instance-credentials'],
    ['/latest/meta-data/iam/%2e%2e/security-credentials/role', 'refuse:canonical:encoded-dot'],
    ['/latest/meta-data/iam//security-credentials/role', 'refuse:canonical:repeated-slash'],
    ['/latest/meta-data/iam/./security-credentials/role', 'refuse:canonical:dot-segment'],
    ['/latest/meta-data/iam\\security-credentials/role', 'refuse:canonical:backslash'],
    ['/latest/meta-data/iam%2fsecurity-credentials/role', 'refuse:canonical:encoded-separator'],
    ['/latest/meta-data/iam/security-credentials/role?x', 'refuse:canonical:query'],
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/role', 'refuse:canonical:not-origin-form'],
    ['/latest/meta-data/instance-id', 'allow:default:allow-rest'],
    ['/latest/meta-data/tags/instance/Name', 'deny:config-deny:/latest/meta-data/tags/*'],
  ];
  // Twice over, the second time from the cache, in both orders.
  for (const list of [spellings, spellings, [...spellings].reverse()]) {
    for (const [raw, expected] of list) assert.equal(outcome(verdicts, 'GET', raw), expected, raw);
  }
});

test('the method is part of the key: PUT is refused off the token path, GET of the same target is not', () => {
  const verdicts = new TargetVerdicts(policy(), false);
  assert.equal(outcome(verdicts, 'GET', '/latest/meta-data/instance-id'), 'allow:default:allow-rest');
  assert.equal(outcome(verdicts, 'PUT', '/latest/meta-data/instance-id'), 'refuse:method');
  assert.equal(outcome(verdicts, 'HEAD', '/latest/meta-data/instance-id'), 'allow:default:allow-rest');
  assert.equal(outcome(verdicts, 'PUT', '/latest/api/token'), 'allow:default:allow-rest');
});

test('a cached verdict is the verdict decided from scratch; require_token adds the 401 per path', () => {
  for (const requireToken of [false, true]) {
    const p = policy();
    const verdicts = new TargetVerdicts(p, requireToken);
    for (const raw of ['/latest/user-data', '/latest/meta-data/', '/latest/meta-data/%2e', '/1.0/meta-data/iam/info']) {
      verdicts.get('GET', raw);
      assert.deepEqual(verdicts.get('GET', raw), decideTarget(p, requireToken, 'GET', raw), raw);
      const v = verdicts.get('GET', raw);
      if (v.refusal === undefined) assert.equal(v.tokenRequired?.status, requireToken ? 401 : undefined);
    }
  }
});

test('the cache is bounded: a flood of distinct targets starts it over; long targets are never kept', () => {
  const verdicts = new TargetVerdicts(policy(), false);
  for (let i = 0; i < MAX_CACHED_TARGETS * 3 + 7; i++) {
    verdicts.get('GET', `/latest/meta-data/x${i}`);
    assert.ok(verdicts.size <= MAX_CACHED_TARGETS);
  }
  const before = verdicts.size;
  const long = `/latest/${'a'.repeat(MAX_CACHED_TARGET_BYTES)}`;
  assert.equal(outcome(verdicts, 'GET', long), 'allow:default:allow-rest');
  assert.equal(verdicts.size, before);
  assert.equal(outcome(verdicts, 'DELETE', '/latest/meta-data/'), 'allow:default:allow-rest', 'decided, not cached');
  assert.equal(verdicts.size, before);
});

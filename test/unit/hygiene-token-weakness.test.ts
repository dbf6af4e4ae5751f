import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { estimatedEntropyBits, MIN_TOKEN_ENTROPY_BITS, tokenWeakness } from '../../src/core/hygiene/token-weakness.js';

/** Samples per generator: enough to catch a threshold that rejects real random tokens now and then. */
const SAMPLES = 2000;

test('tokens from the usual generators always pass', () => {
  const generators: Record<string, () => string> = {
    'sidekey token': () => randomToken(),
    'openssl rand -hex 16': () => randomBytes(16).toString('hex'),
    'secrets.token_urlsafe(32)': () => randomBytes(32).toString('base64url'),
    'openssl rand -base64 32 | tr -d =+/ | cut -c1-32': () => randomBytes(32).toString('base64').replace(/[=+/]/g, '').slice(0, 32),
  };
  for (const [name, generate] of Object.entries(generators)) {
    for (let i = 0; i < SAMPLES; i++) {
      const token = generate();
      assert.equal(tokenWeakness(token, ['web-app']), undefined, `${name} produced a token judged weak`);
    }
  }
});

test('hand-made tokens fail, each for its reason, and no reason quotes the token', () => {
  const cases: [string, RegExp][] = [
    ['short-token', /shorter than 32/],
    ['a'.repeat(40), /repeated/],
    ['abcabcabcabcabcabcabcabcabcabcabcabc', /repeated/],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbb', /entropy/],
    ['web-app-secure-token-2025-abc123def456', /common word/],
    ['worker-secure-token-2025-xyz789uvw012', /common word/],
    ['Zq8-abcdefg-Kp2mW9xL4vN7rT1yB5cH3jF6', /consecutive/],
    ['Zq8-qwertyu-Kp2mW9xL4vN7rT1yB5cH3jF6', /consecutive|keyboard/],
    ['Zq8xKp2mW9xL4vN7rT1yB5cH3jF6-billing', /own name/],
  ];
  for (const [token, reason] of cases) {
    const why = tokenWeakness(token, ['billing']);
    assert.match(why ?? 'passed', reason, token);
    assert.ok(!why?.includes(token.slice(0, 6)), 'the reason must not quote the token');
  }
});

test('the entropy estimate is the character distribution times the length', () => {
  assert.equal(estimatedEntropyBits('aaaa'), 0);
  assert.equal(estimatedEntropyBits('abab'), 4);
  assert.ok(estimatedEntropyBits(randomBytes(16).toString('hex')) > MIN_TOKEN_ENTROPY_BITS);
});

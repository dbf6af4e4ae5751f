import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { estimatedEntropyBits, MIN_TOKEN_ENTROPY_BITS, tokenWeakness } from '../../src/core/hygiene/token-weakness.js';

/** Samples per generator: enough to catch a threshold that rejects real random tokens now and then. */
const SAMPLES = 2000;

/**
 * Random-looking bytes from a fixed seed, so this test judges the same samples on every run: a
 * statistical property tested on fresh randomness would fail now and then by design.
 */
const seeded = (label: string, i: number) => createHash('sha256').update(`${label}:${i}`).digest();

test('tokens from the usual generators always pass', () => {
  const generators: Record<string, (bytes: Buffer) => string> = {
    'sidekey token': (b) => b.toString('base64url'),
    'openssl rand -hex 16': (b) => b.subarray(0, 16).toString('hex'),
    'secrets.token_urlsafe(32)': (b) => b.toString('base64url'),
    'openssl rand -base64 32 | tr -d =+/ | cut -c1-32': (b) => b.toString('base64').replace(/[=+/]/g, '').slice(0, 32),
  };
  for (const [name, generate] of Object.entries(generators)) {
    for (let i = 0; i < SAMPLES; i++) {
      const token = generate(seeded(name, i));
      assert.equal(tokenWeakness(token, ['web-app']), undefined, `${name} produced a token judged weak`);
    }
  }
});

test('a random token that happens to contain a common word glued to other letters passes', () => {
  assert.equal(tokenWeakness('Zq8xKp2mW9xadminL4vN7rT1yB5cH3jF6Qw0u', ['web']), undefined);
  assert.equal(tokenWeakness('Zq8xKp2mW9xL4vN7rT1yB5cH3jF6Qw0utokenR', ['web']), undefined);
  assert.match(tokenWeakness('Zq8xKp2mW9xL4vN7rT1yB5cH3jF6Qw0u-token', ['web']) ?? '', /common word/);
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

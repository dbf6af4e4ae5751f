import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomToken, TOKEN_BYTES } from '../../src/core/crypto/random-token.js';
import { secretEquals, TokenIndex } from '../../src/core/crypto/secret-equal.js';

test('secretEquals compares content, whatever the lengths', () => {
  assert.equal(secretEquals('abc', 'abc'), true);
  assert.equal(secretEquals('abc', 'abd'), false);
  assert.equal(secretEquals('abc', 'abcd'), false);
  assert.equal(secretEquals('', ''), true);
});

test('TokenIndex finds the owner of a token and nothing else', () => {
  const a = randomToken();
  const b = randomToken();
  const index = new TokenIndex([
    [a, 'service-a'],
    [b, 'service-b'],
  ]);
  assert.equal(index.size, 2);
  assert.equal(index.find(a), 'service-a');
  assert.equal(index.find(b), 'service-b');
  assert.equal(index.find(`${a}x`), undefined);
  assert.equal(index.find(a.slice(0, -1)), undefined);
  assert.equal(index.find(''), undefined);
  assert.equal(index.find(undefined), undefined);
});

test('an empty token never matches, even an entry whose token is empty', () => {
  const index = new TokenIndex([['', 'empty']]);
  assert.equal(index.find(undefined), undefined);
});

test('random tokens are URL-safe, long enough and distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const token = randomToken();
    assert.match(token, /^[A-Za-z0-9_-]+$/);
    assert.equal(token.length, Math.ceil((TOKEN_BYTES * 4) / 3));
    assert.ok(token.length >= 32);
    seen.add(token);
  }
  assert.equal(seen.size, 100);
});

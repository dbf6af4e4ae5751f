import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { canonicalContext, encryptionContext } from '../../src/core/secrets/encryption-context.js';
import { decodeWrappedKey, encodeWrappedKey } from '../../src/core/secrets/key-envelope.js';
import {
  EnvelopeError,
  NONCE_BYTES,
  openPayload,
  PAYLOAD_FORMAT_VERSION,
  sealPayload,
  TAG_BYTES,
} from '../../src/core/secrets/payload-envelope.js';

const key = randomBytes(32);
const context = encryptionContext('cryptex', 'dbpassword', 7);

test('a payload envelope opens under its key and context, and carries magic, version and algorithm', () => {
  const sealed = sealPayload(Buffer.from('hunter2'), key, context);
  assert.equal(sealed.subarray(0, 4).toString('ascii'), 'SKSP');
  assert.equal(sealed[4], PAYLOAD_FORMAT_VERSION);
  assert.equal(sealed[5], 1);
  assert.equal(sealed.length, 6 + NONCE_BYTES + 32 + 7 + TAG_BYTES);
  assert.equal(openPayload(sealed, key, context).toString(), 'hunter2');
  assert.notDeepEqual(sealPayload(Buffer.from('hunter2'), key, context), sealed, 'a fresh nonce each time');
});

test('another context, key, version, algorithm, or any flipped bit is refused', () => {
  const sealed = sealPayload(Buffer.from('hunter2'), key, context);
  assert.throws(() => openPayload(sealed, key, encryptionContext('cryptex', 'dbpassword', 8)), /GCM tag does not authenticate/);
  assert.throws(() => openPayload(sealed, key, encryptionContext('cryptex', 'other', 7)), EnvelopeError);
  assert.throws(() => openPayload(sealed, key, encryptionContext('other', 'dbpassword', 7)), EnvelopeError);
  assert.throws(() => openPayload(sealed, randomBytes(32), context), /key commitment does not match/);
  for (let bit = 0; bit < sealed.length * 8; bit += 7) {
    const copy = Buffer.from(sealed);
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
    assert.throws(() => openPayload(copy, key, context), EnvelopeError, `bit ${bit}`);
  }
  assert.throws(() => openPayload(sealed.subarray(0, 20), key, context), /truncated/);
});

test('canonical contexts cannot collide by moving a separator', () => {
  assert.notDeepEqual(canonicalContext({ a: 'b=c', d: 'e' }), canonicalContext({ a: 'b', c: 'd=e' }));
  assert.deepEqual(canonicalContext({ b: '2', a: '1' }), canonicalContext({ a: '1', b: '2' }));
});

test('a wrapped-key envelope round-trips provider and key id, and refuses garbage', () => {
  const wrapped = { provider: 'kms' as const, keyId: 'arn:aws:kms:us-east-1:111122223333:key/abc', wrapped: randomBytes(60) };
  assert.deepEqual(decodeWrappedKey(encodeWrappedKey(wrapped)), wrapped);
  assert.throws(() => decodeWrappedKey(Buffer.from('not an envelope')), /no sidekey header/);
  const bad = encodeWrappedKey(wrapped);
  bad[5] = 9;
  assert.throws(() => decodeWrappedKey(bad), /unknown key provider id 9/);
});

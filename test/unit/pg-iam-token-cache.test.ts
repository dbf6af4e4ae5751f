import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Signer } from '@aws-sdk/rds-signer';
import { CancelKeyRegistry } from '../../src/core/pg/cancel-keys.js';
import {
  CREDENTIAL_EXPIRY_MARGIN_MS,
  IamTokenCache,
  TOKEN_CACHE_MAX_AGE_MS,
  type TokenRequest,
} from '../../src/core/pg/iam-token-cache.js';
import { verifyPresignedUrl } from '../peers/sigv4-verifier.js';

const KEY = { accessKeyId: 'AKIDTOKENCACHE000001', secretAccessKey: 'token-cache-secret-0000000000000000001' };

function setup(expiration?: Date) {
  let now = Date.parse('2030-01-01T00:00:00Z');
  let signatures = 0;
  const outcomes: string[] = [];
  const cache = new IamTokenCache({
    now: () => now,
    signer: async (request) => {
      signatures++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return `${request.hostname}:${request.port}/?DBUser=${request.user}&n=${signatures}`;
    },
    onLookup: (outcome) => outcomes.push(outcome),
  });
  const request = (user = 'app'): TokenRequest => ({
    target: 'orders',
    hostname: 'db.example',
    port: 5432,
    user,
    region: 'us-east-1',
    credentials: async () => ({ ...KEY, ...(expiration ? { expiration } : {}) }),
  });
  return { cache, request, advance: (ms: number) => (now += ms), signatures: () => signatures, outcomes, now: () => now };
}

test('a burst of requests makes one signature (single flight), then hits the cache', async () => {
  const { cache, request, signatures, outcomes } = setup();
  const tokens = await Promise.all(Array.from({ length: 50 }, () => cache.token(request())));
  assert.equal(signatures(), 1);
  assert.equal(new Set(tokens).size, 1);
  await cache.token(request());
  assert.deepEqual([outcomes[0], outcomes.filter((o) => o === 'joined').length, outcomes.at(-1)], ['miss', 49, 'hit']);
});

test('tokens are cached per (target, user) for at most 14 minutes', async () => {
  const { cache, request, advance, signatures } = setup();
  await cache.token(request('a'));
  await cache.token(request('b'));
  assert.equal(signatures(), 2);
  advance(TOKEN_CACHE_MAX_AGE_MS - 1);
  await cache.token(request('a'));
  assert.equal(signatures(), 2);
  advance(1);
  await cache.token(request('a'));
  assert.equal(signatures(), 3);
});

test('a token is never reused past the expiry of the credentials that signed it', async () => {
  const start = Date.parse('2030-01-01T00:00:00Z');
  const { cache, request, advance, signatures } = setup(new Date(start + 5 * 60 * 1000));
  await cache.token(request());
  advance(5 * 60 * 1000 - CREDENTIAL_EXPIRY_MARGIN_MS - 1);
  await cache.token(request());
  assert.equal(signatures(), 1);
  advance(1);
  await cache.token(request());
  assert.equal(signatures(), 2);
});

test('credentials about to expire sign a token that is used once, not cached; failures are not cached', async () => {
  const start = Date.parse('2030-01-01T00:00:00Z');
  const { cache, request, signatures } = setup(new Date(start + 10_000));
  await cache.token(request());
  await cache.token(request());
  assert.equal(signatures(), 2);
  let calls = 0;
  const failing = new IamTokenCache({
    signer: async () => {
      calls++;
      throw new Error('no credentials');
    },
  });
  await assert.rejects(failing.token(request()));
  await assert.rejects(failing.token(request()));
  assert.equal(calls, 2);
});

test('the default signer (@aws-sdk/rds-signer) makes tokens the independent verifier accepts', async () => {
  const cache = new IamTokenCache();
  const token = await cache.token({
    target: 't',
    hostname: 'db.example',
    port: 5432,
    user: 'app',
    region: 'eu-west-1',
    credentials: async () => KEY,
  });
  const result = verifyPresignedUrl(token, { keys: new Map([[KEY.accessKeyId, KEY]]), service: 'rds-db', region: 'eu-west-1' });
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.params?.get('DBUser'), 'app');
  assert.equal(result.params?.get('X-Amz-Expires'), '900');
  assert.ok(Signer);
});

test('cancel keys: the real pid and a minted secret, routed only with that secret, forgotten on release', () => {
  const registry = new CancelKeyRegistry<string>();
  // Two sessions on backends of different servers that happen to share a pid.
  const a = registry.register(4242, 'route-a');
  const b = registry.register(4242, 'route-b');
  assert.equal(a.key.pid, 4242);
  assert.notEqual(a.key.secret, b.key.secret);
  assert.equal(registry.lookup(a.key), 'route-a');
  assert.equal(registry.lookup(b.key), 'route-b');
  assert.equal(registry.lookup({ pid: 4242, secret: a.key.secret ^ 1 }), undefined);
  assert.equal(registry.lookup({ pid: 4243, secret: a.key.secret }), undefined);
  a.release();
  a.release();
  assert.equal(registry.lookup(a.key), undefined);
  assert.equal(registry.lookup(b.key), 'route-b');
  assert.equal(registry.size, 1);
});

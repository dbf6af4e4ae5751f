import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Sha256 } from '@aws-crypto/sha256-js';
import { Signer } from '@aws-sdk/rds-signer';
import { SignatureV4 } from '@smithy/signature-v4';
import { verifyPresignedUrl, verifyRequest } from '../peers/sigv4-verifier.js';

const key = { accessKeyId: 'AKIDTESTPEER0000001', secretAccessKey: 'peer-secret-key-for-tests-only-0001' };
const keys = new Map([[key.accessKeyId, key]]);

test('a request signed by the SDK verifies; a tampered one does not', async () => {
  const signer = new SignatureV4({ credentials: key, region: 'us-east-1', service: 'sts', sha256: Sha256 });
  const body = 'Action=GetCallerIdentity&Version=2011-06-15';
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: 4000,
    path: '/',
    headers: { host: '127.0.0.1:4000', 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const ok = verifyRequest({ method: 'POST', url: '/', headers, body: Buffer.from(body) }, { keys, service: 'sts' });
  assert.equal(ok.ok, true, JSON.stringify(ok));
  const tampered = verifyRequest({ method: 'POST', url: '/', headers, body: Buffer.from(`${body}x`) }, { keys, service: 'sts' });
  assert.equal(tampered.ok, false);
  const wrongService = verifyRequest({ method: 'POST', url: '/', headers, body: Buffer.from(body) }, { keys, service: 'kms' });
  assert.equal(wrongService.ok, false);
});

test('an RDS IAM token from @aws-sdk/rds-signer verifies, and expires', async () => {
  const signer = new Signer({ hostname: 'db.example.internal', port: 5432, username: 'app_user', region: 'us-east-1', credentials: key });
  const token = await signer.getAuthToken();
  const result = verifyPresignedUrl(token, { keys, service: 'rds-db', region: 'us-east-1' });
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.params?.get('DBUser'), 'app_user');
  const later = verifyPresignedUrl(token, { keys, service: 'rds-db', now: new Date(Date.now() + 16 * 60 * 1000) });
  assert.equal(later.ok, false);
  const tampered = verifyPresignedUrl(token.replace('DBUser=app_user', 'DBUser=admin'), { keys, service: 'rds-db' });
  assert.equal(tampered.ok, false);
});

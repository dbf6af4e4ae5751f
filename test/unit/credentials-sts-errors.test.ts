import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { explainStsError } from '../../src/core/credentials/sts-assume-role.js';
import { isSidekeyError } from '../../src/core/errors.js';

const assume = new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::123456789012:role/Web', RoleSessionName: 'sidekey-web' });

test('a missing region names the keys that set it', async () => {
  const saved = { AWS_REGION: process.env.AWS_REGION, AWS_DEFAULT_REGION: process.env.AWS_DEFAULT_REGION };
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  try {
    const client = new STSClient({ credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } });
    const error = await client.send(assume).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => explainStsError(e, 'web'),
    );
    assert.ok(isSidekeyError(error, 'UPSTREAM_FAILED'));
    assert.match(error.message, /no AWS region for service web: set aws_defaults\.region or services\.web\.source_credentials\.region/);
  } finally {
    Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
  }
});

test('no base credentials anywhere says where the daemon looked', async () => {
  const env = { ...process.env };
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
  ])
    delete process.env[name];
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/dev/null';
  process.env.AWS_CONFIG_FILE = '/dev/null';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  try {
    const client = new STSClient({ region: 'us-east-1', credentials: fromNodeProviderChain() });
    const error = await client.send(assume).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => explainStsError(e, 'web'),
    );
    assert.ok(isSidekeyError(error, 'UPSTREAM_FAILED'), String(error));
    assert.match(error.message, /no base AWS credentials to assume the role of service web/);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
    Object.assign(process.env, env);
  }
});

test('errors from STS itself pass through unchanged', () => {
  const denied = Object.assign(new Error('not authorized'), { name: 'AccessDenied' });
  assert.equal(explainStsError(denied, 'web'), denied);
});

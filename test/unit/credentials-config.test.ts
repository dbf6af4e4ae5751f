/** Every bad case in the credential endpoint's config sections gets a message naming the key path. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/core/config/load-config.js';
import { createCredentialBroker } from '../../src/core/credentials/create-credential-broker.js';
import { parseServiceFile } from '../../src/core/credentials/dynamic-service-files.js';
import { isSidekeyError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/log/logger.js';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
after(() => dir.remove());
const TOKEN = 'tok-0123456789abcdefghijklmnopqrstuvwxyz';
const TOKEN2 = 'tok-zyxwvutsrqponmlkjihgfedcba9876543210';
const ROLE = 'arn:aws:iam::123456789012:role/AppRole';
const POLICY = { allowedRoleArns: ['arn:aws:iam::123456789012:role/*'], tokenDirectories: undefined };

function problems(yaml: string): string {
  try {
    parseConfig(yaml, join(dir.path, 'sidekey.yaml'), { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return assert.fail('expected the config to be refused');
}

/** A service `web` with `role` lines added under assumed_role and `extra` lines under the service. */
const svc = (role = '', extra = '') =>
  `services:\n  web:\n    auth_token: "${TOKEN}"\n    assumed_role:\n      RoleArn: ${ROLE}\n${role ? `      ${role}\n` : ''}${extra ? `    ${extra}\n` : ''}`;

const cases: [string, string, RegExp][] = [
  [
    'missing RoleArn',
    `services:\n  web:\n    auth_token: "${TOKEN}"\n    assumed_role: {}\n`,
    /services\.web\.assumed_role\.RoleArn: is required \(an IAM role ARN/,
  ],
  ['missing assumed_role', `services:\n  web:\n    auth_token: "${TOKEN}"\n`, /services\.web\.assumed_role: is required/],
  [
    'near-miss key',
    svc('RoleSesionName: app'),
    /services\.web\.assumed_role\.RoleSesionName: unknown key \(did you mean "RoleSessionName"\?\)/,
  ],
  [
    'bad session name',
    svc('RoleSessionName: "has space"'),
    /services\.web\.assumed_role\.RoleSessionName: expected a session name of 2 to 64 characters/,
  ],
  [
    'long session',
    svc('DurationSeconds: 50000'),
    /services\.web\.assumed_role\.DurationSeconds: expected an integer from 900 to 43200 \(seconds\), got 50000/,
  ],
  ['short external id', svc('ExternalId: "x"'), /services\.web\.assumed_role\.ExternalId: must be at least 2 characters long/],
  ['policy not JSON', svc('Policy: "{not json"'), /services\.web\.assumed_role\.Policy: is not valid JSON/],
  [
    'bad policy ARN',
    svc('PolicyArns: ["arn:aws:iam::123456789012:role/NotAPolicy"]'),
    /services\.web\.assumed_role\.PolicyArns\[0\]: expected a managed policy ARN/,
  ],
  ['tag without key', svc('Tags: [{ Value: v }]'), /services\.web\.assumed_role\.Tags\[0\]\.Key: is required/],
  ['bad source identity', svc('SourceIdentity: "a b"'), /services\.web\.assumed_role\.SourceIdentity: expected a source identity/],
  ['token and file', svc('', 'auth_token_file: /run/token'), /services\.web: cannot specify auth_token and auth_token_file together/],
  [
    'profile and keys',
    svc('', 'source_credentials: { iam_profile: { profile_name: p }, iam_keys: { aws_access_key_id: A, aws_secret_access_key: B } }'),
    /services\.web\.source_credentials: cannot specify iam_profile and iam_keys together/,
  ],
  [
    'keys without secret',
    svc('', 'source_credentials: { iam_keys: { aws_access_key_id: AKID } }'),
    /services\.web\.source_credentials\.iam_keys\.aws_secret_access_key: is required with iam_keys/,
  ],
  [
    'two key names',
    svc('', 'source_credentials: { iam_keys: { aws_access_key_id: A, access_key_id: B, aws_secret_access_key: C } }'),
    /cannot specify aws_access_key_id and access_key_id together/,
  ],
  [
    'bad source region',
    svc('', 'source_credentials: { region: moon-1 }'),
    /services\.web\.source_credentials\.region: expected an AWS region/,
  ],
  [
    'zero rate',
    svc('', 'rate_limit: { per_second: 0 }'),
    /services\.web\.rate_limit\.per_second: expected an integer from 1 to 1000000 \(requests per second\), got 0/,
  ],
  ['enabled not bool', svc('', 'enabled: "yes"'), /services\.web\.enabled: expected true or false, got "yes"/],
  ['renamed role_arn', svc('', `role_arn: ${ROLE}`), /services\.web\.role_arn: this key is no longer accepted: use assumed_role\.RoleArn/],
  [
    'name too long',
    `services:\n  ${'a'.repeat(64)}:\n    auth_token: "${TOKEN}"\n    assumed_role: { RoleArn: ${ROLE} }\n`,
    /services\.a{64}: invalid name/,
  ],
  [
    'name with hyphen edge',
    `services:\n  -web:\n    auth_token: "${TOKEN}"\n    assumed_role: { RoleArn: ${ROLE} }\n`,
    /services\.-web: invalid name "-web"/,
  ],
  [
    'shared token',
    `${svc()}  api:\n    auth_token: "${TOKEN}"\n    assumed_role: { RoleArn: ${ROLE} }\n`,
    /services: services "web" and "api" have the same auth_token; every service needs its own/,
  ],
  [
    'short buffer',
    'credentials: { refresh_buffer_seconds: 30 }\n',
    /credentials\.refresh_buffer_seconds: expected an integer from 60 to 43200 \(seconds\), got 30/,
  ],
  [
    'retry ceiling below start',
    'credentials: { retry_delay: 10, max_retry_delay: 5 }\n',
    /credentials\.max_retry_delay: must be at least retry_delay \(10 seconds\)/,
  ],
  [
    'sts endpoint scheme',
    'credentials: { sts_endpoint: "ftp://sts.example" }\n',
    /credentials\.sts_endpoint: must be an http:\/\/ or https:\/\/ URL/,
  ],
  ['sts endpoint not a URL', 'credentials: { sts_endpoint: "sts here" }\n', /credentials\.sts_endpoint: is not a URL/],
  [
    'request timeout',
    'credentials: { request_timeout: 0 }\n',
    /credentials\.request_timeout: expected an integer from 1 to 60 \(seconds\)/,
  ],
  [
    'reload interval',
    'dynamic_services: { enabled: true, reload_interval: 0, allowed_role_arns: ["arn:aws:iam::*:role/*"] }\n',
    /dynamic_services\.reload_interval: expected an integer from 1 to 86400/,
  ],
  [
    'directory without path',
    'dynamic_services: { enabled: true, allowed_role_arns: ["arn:aws:iam::*:role/*"], directories: [{ include_patterns: ["*.yaml"] }] }\n',
    /dynamic_services\.directories\[0\]\.path: is required/,
  ],
  ['server rate limit', 'server: { rate_limit: { burst: -1 } }\n', /server\.rate_limit\.burst: expected an integer from 1 to 1000000/],
  ['bad listener', 'server: { listeners: ["localhost"] }\n', /server\.listeners\[0\]: expected HOST:PORT, \[IPV6\]:PORT or unix:\/path/],
];

for (const [name, yaml, expected] of cases) {
  test(`config: ${name}`, () => {
    assert.match(problems(yaml), expected);
  });
}

test('config: tokens and secret keys are never echoed', () => {
  const found = problems(
    `${svc('', 'source_credentials: { iam_keys: { aws_access_key_id: AKIDLEAKCHECK1, aws_secret_access_key: 7 } }')}  api:\n    auth_token: "${TOKEN}"\n    assumed_role: { RoleArn: ${ROLE} }\n  bad:\n    auth_token: "has a space in it but is long enough"\n    assumed_role: { RoleArn: ${ROLE} }\n`,
  );
  assert.match(found, /services\.bad\.auth_token: must be printable ASCII/);
  assert.doesNotMatch(found, new RegExp(TOKEN));
  assert.doesNotMatch(found, /has a space/);
});

test('config: x- keys are ignored, CredProxy style', () => {
  const { config } = parseConfig(`${svc('', 'x-owner: team-a')}  x-notes: anything\n`, join(dir.path, 'x.yaml'), { env: {} });
  assert.deepEqual(Object.keys(config.services), ['web']);
});

test('service files: every problem names the file and the key path', () => {
  const file = join(dir.path, 'svc.yaml');
  assert.throws(
    () => parseServiceFile(`services:\n  web:\n    auth_token: short\n    assumed_role: { RoleArn: nope }\n  Bad_Name: {}\n`, file, POLICY),
    (error: Error) =>
      error.message.startsWith(`${file}: `) &&
      /services\.web\.auth_token: must be at least 32 characters/.test(error.message) &&
      /services\.web\.assumed_role\.RoleArn: expected an IAM role ARN/.test(error.message) &&
      /services\.Bad_Name: invalid name/.test(error.message) &&
      !error.message.includes('short'),
  );
  assert.throws(() => parseServiceFile('server: {}\n', file, POLICY), /server: unknown key; allowed here: services/);
  assert.throws(() => parseServiceFile('services: [oops', file, POLICY), new RegExp(`${file}: line 1, column \\d+: `));
  const bomb = ['a: &a [x]', ...Array.from({ length: 120 }, (_, i) => `k${i}: *a`)].join('\n');
  assert.throws(
    () => parseServiceFile(bomb, file, POLICY),
    (error: Error) => isSidekeyError(error, 'CONFIG_INVALID') && error.message.startsWith(`${file}: `) && /alias/i.test(error.message),
  );
  assert.deepEqual(
    Object.keys(parseServiceFile(`services:\n  web:\n    auth_token: "${TOKEN}"\n    assumed_role: { RoleArn: ${ROLE} }\n`, file, POLICY)),
    ['web'],
  );
});

test('token files: unreadable, short or shared tokens stop start-up with the file and key named', () => {
  const short = join(dir.path, 'short.token');
  writeFileSync(short, 'abc\n');
  const shared = join(dir.path, 'shared.token');
  writeFileSync(shared, `${TOKEN2}\n`);
  const yaml =
    `services:\n  a:\n    auth_token_file: ${join(dir.path, 'missing.token')}\n    assumed_role: { RoleArn: ${ROLE} }\n` +
    `  b:\n    auth_token_file: ${short}\n    assumed_role: { RoleArn: ${ROLE} }\n` +
    `  c:\n    auth_token: "${TOKEN2}"\n    assumed_role: { RoleArn: ${ROLE} }\n` +
    `  d:\n    auth_token_file: ${shared}\n    assumed_role: { RoleArn: ${ROLE} }\n`;
  const loaded = parseConfig(yaml, join(dir.path, 'tokens.yaml'), { env: {} });
  assert.throws(
    () => createCredentialBroker(loaded, silentLogger(), new MetricsRegistry()),
    (error: Error) =>
      /services\.a\.auth_token_file: cannot read token file .*missing\.token \(ENOENT\)/.test(error.message) &&
      /services\.b\.auth_token_file: the token in .*short\.token must be at least 32 characters long/.test(error.message) &&
      /services\.d\.auth_token: the same token as service "c"/.test(error.message) &&
      !error.message.includes(TOKEN2) &&
      !error.message.includes('abc'),
  );
});

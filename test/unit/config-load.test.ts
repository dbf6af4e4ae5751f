import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/core/config/load-config.js';
import { isSidekeyError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir();
after(() => dir.remove());
const TOKEN = 'tok-0123456789abcdefghijklmnopqrstuvwxyz';
const ROLE = 'arn:aws:iam::123456789012:role/AppRole';

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(yaml, join(dir.path, 'sidekey.yaml'), { env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail('expected the config to be refused');
}

const service = (extra = '') => `services:\n  web-app:\n    auth_token: "${TOKEN}"\n    assumed_role:\n      RoleArn: ${ROLE}\n${extra}`;

test('an empty file is a valid config with every default', () => {
  const { config } = parseConfig('', join(dir.path, 'empty.yaml'));
  assert.deepEqual(config.services, {});
  assert.equal(config.logging.level, 'info');
  assert.equal(config.credentials.refresh_buffer_seconds, 1800);
  assert.equal(config.metrics.prometheus.enabled, true);
});

test('a CredProxy file loads unchanged, with our safer defaults', () => {
  const yaml = `
server:
  host: localhost
  port: 1338
  debug: false
  log_health_checks: false
credentials:
  refresh_buffer_seconds: 300
  retry_delay: 5
  request_timeout: 30
aws_defaults:
  region: us-west-2
  iam_keys:
    access_key_id: "\${fromEnv:AWS_ACCESS_KEY_ID}"
    secret_access_key: "\${fromEnv:AWS_SECRET_ACCESS_KEY}"
services:
  web-app:
    auth_token: "\${fromEnv:WEB_TOKEN}"
    x-owner: team-a
    source_credentials:
      region: us-east-1
      iam_profile:
        profile_name: prod
    assumed_role:
      RoleArn: ${ROLE}
      RoleSessionName: app-session
      ExternalId: ext-123
      Policy: '{"Version":"2012-10-17","Statement":[]}'
      PolicyArns: ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
      Tags: [{ Key: team, Value: a }]
      SourceIdentity: alice
dynamic_services:
  enabled: true
  directories:
    - path: ./services.d
      include_patterns: ["*.yaml"]
  reload_interval: 10
  allowed_role_arns: ["arn:aws:iam::123456789012:role/apps-*"]
metrics:
  prometheus:
    enabled: true
    port: 9091
`;
  const env = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', WEB_TOKEN: TOKEN };
  const { config, substitutions } = parseConfig(yaml, join(dir.path, 'credproxy.yaml'), { env });
  const web = config.services['web-app'];
  assert.ok(web);
  assert.equal(web.auth_token, TOKEN);
  assert.equal(web.assumed_role.DurationSeconds, 3600, 'our default session is an hour, not 900 s');
  assert.equal(config.dynamic_services.directories[0]?.path, join(dir.path, 'services.d'));
  assert.equal(Object.isFrozen(config.services), true);
  assert.deepEqual(
    substitutions.map((s) => s.keyPath),
    ['aws_defaults.iam_keys.access_key_id', 'aws_defaults.iam_keys.secret_access_key', 'services.web-app.auth_token'],
  );
});

test('unknown keys are refused with a did-you-mean hint and the line', () => {
  const found = problems(`${service()}    asumed_role: {}\n`);
  assert.ok(
    found.some((p) => /^line 6: services\.web-app\.asumed_role: unknown key \(did you mean "assumed_role"\?\)/.test(p)),
    found.join('\n'),
  );
});

test('renamed keys get a migration hint', () => {
  const found = problems(`${service()}    token: x\n`);
  assert.ok(
    found.some((p) => p.includes('services.web-app.token: this key is no longer accepted: use auth_token')),
    found.join('\n'),
  );
});

test('every value is checked, and every problem is reported in one pass', () => {
  const yaml = `
services:
  Web_App:
    auth_token: short
    assumed_role: { RoleArn: ${ROLE} }
  api:
    auth_token: "${TOKEN}"
    assumed_role:
      RoleArn: arn:aws:iam::12345:role/X
      DurationSeconds: 60
aws_defaults:
  region: mars-central
logging:
  level: loud
`;
  const found = problems(yaml).join('\n');
  assert.match(found, /services\.Web_App: invalid name "Web_App": expected a name of lowercase letters/);
  assert.match(found, /services\.api\.assumed_role\.RoleArn: expected an IAM role ARN/);
  assert.match(found, /services\.api\.assumed_role\.DurationSeconds: expected an integer from 900 to 43200 \(seconds\), got 60/);
  assert.match(found, /aws_defaults\.region: expected an AWS region such as us-east-1, got "mars-central"/);
  assert.match(found, /logging\.level: expected one of .*got "loud"/);
});

test('a short token is refused without echoing it', () => {
  const found = problems(`services:\n  web:\n    auth_token: "abc-secret"\n    assumed_role: { RoleArn: ${ROLE} }\n`).join('\n');
  assert.match(found, /services\.web\.auth_token: must be at least 32 characters long \(it has 10\)/);
  assert.doesNotMatch(found, /abc-secret/);
});

test('a missing token is refused with the fix', () => {
  const found = problems(`services:\n  web:\n    assumed_role: { RoleArn: ${ROLE} }\n`).join('\n');
  assert.match(found, /services\.web\.auth_token: is required \(or auth_token_file\); sidekey token makes one/);
});

test('cross-field rules name both keys', () => {
  assert.match(
    problems(`server:\n  host: 127.0.0.1\n  listeners: ["127.0.0.1:1338"]\n`).join('\n'),
    /cannot specify server\.listeners together with server\.host\/server\.port/,
  );
  assert.match(
    problems(`admin:\n  listen: 127.0.0.1:9090\nmetrics:\n  prometheus:\n    port: 9091\n`).join('\n'),
    /cannot specify admin\.listen and metrics\.prometheus\.host\/port together/,
  );
  assert.match(
    problems(`admin:\n  listen: 127.0.0.1:1338\n`).join('\n'),
    /admin\.listen and server\.listeners both listen on 127\.0\.0\.1:1338/,
  );
  assert.match(
    problems(`imds:\n  callers: [{ cidr: 172.17.0.5/32, service: ghost }]\n`).join('\n'),
    /imds\.callers\[0\]\.service: no service named "ghost" under services/,
  );
});

test('a failed substitution is reported once, with its key path and line', () => {
  const found = problems(`services:\n  web:\n    auth_token: "\${fromEnv:NOPE_NOT_SET}"\n    assumed_role: { RoleArn: ${ROLE} }\n`);
  assert.equal(found.length, 1, found.join('\n'));
  assert.match(found[0] as string, /^line 3: services\.web\.auth_token: environment variable NOPE_NOT_SET is not set/);
});

test('YAML syntax errors and duplicate keys name the line', () => {
  assert.match(problems('services:\n  web: [\n').join('\n'), /line \d+, column \d+/);
  assert.match(problems('logging:\n  level: info\n  level: warn\n').join('\n'), /line 3.*[Mm]ap keys must be unique/);
});

test('listen addresses are parsed and checked', () => {
  const { config } = parseConfig(
    `server:\n  listeners: ["[::1]:1338", "unix:/run/sk.sock", "169.254.170.2:80"]\n`,
    join(dir.path, 'a.yaml'),
  );
  assert.deepEqual(config.server?.listeners, [
    { kind: 'tcp', host: '::1', port: 1338 },
    { kind: 'unix', path: '/run/sk.sock' },
    { kind: 'tcp', host: '169.254.170.2', port: 80 },
  ]);
  const found = problems(`server:\n  listeners: ["127.0.0.1", "unix:relative", "[zz]:80", "1.2.3.4:70000"]\n`).join('\n');
  assert.match(found, /server\.listeners\[0\]: expected HOST:PORT/);
  assert.match(found, /server\.listeners\[1\]: a unix socket needs an absolute path/);
  assert.match(found, /server\.listeners\[2\]: expected HOST:PORT, \[IPV6\]:PORT or unix:\/path, got "\[zz\]:80"/);
  assert.match(found, /server\.listeners\[3\]: port 70000 is out of range/);
});

test('a missing file is a catalogued, readable error', () => {
  assert.throws(
    () => loadConfig(join(dir.path, 'nope.yaml')),
    (error: unknown) => isSidekeyError(error, 'CONFIG_UNREADABLE') && /cannot read config file .*nope\.yaml \(ENOENT\)/.test(error.message),
  );
});

test('the loaded config is frozen', () => {
  const file = join(dir.path, 'frozen.yaml');
  writeFileSync(file, service());
  const { config } = loadConfig(file);
  assert.throws(() => {
    (config.services['web-app'] as { enabled: boolean }).enabled = false;
  }, TypeError);
});

/**
 * One test per path bypass class (docs/imds.md lists them), each with several
 * variants sent on raw sockets: every variant is refused, or answered exactly as the upstream
 * answers the canonical harmless path, and nothing forbidden reaches the metadata service.
 */
import { after, before, test } from 'node:test';
import { checkVariants, type GuardUnderTest, startGuard } from './guard-fixtures.js';

let g: GuardUnderTest;
before(async () => {
  g = await startGuard({ cache_ttl_seconds: 0 });
});
after(() => g.stop());

const CREDS = '/latest/meta-data/iam/security-credentials';
const R = 'refused' as const;
const same = (path: string) => ({ same: path });

test('trailing junk after the role name', () =>
  checkVariants(g, [
    [`${CREDS}/instance-role/`, R],
    [`${CREDS}/instance-role/x`, R],
    [`${CREDS}/instance-role%00`, R],
    [`${CREDS}/instance-role%20`, R],
    [`${CREDS}/instance-role;x`, R],
    [`${CREDS}/instance-role?x=1`, R],
    [`${CREDS}/instance-role#x`, R],
    [`${CREDS}/instance-role.`, R],
    [`${CREDS}/instance-role%2F`, R],
    [`${CREDS}/instance-role~`, R],
  ]));

test('repeated slashes', () =>
  checkVariants(g, [
    [`//latest/meta-data/iam/security-credentials/`, R],
    [`/latest//meta-data/iam/security-credentials/instance-role`, R],
    [`/latest/meta-data//iam/security-credentials/instance-role`, R],
    [`${CREDS}//instance-role`, R],
    [`/latest///user-data`, R],
    [`/latest/meta-data//instance-id`, R],
  ]));

test('dot segments, raw and percent-encoded', () =>
  checkVariants(g, [
    [`/latest/meta-data/./iam/security-credentials/`, R],
    [`/latest/meta-data/instance-id/../iam/security-credentials/instance-role`, R],
    [`/latest/x/../user-data`, R],
    [`/latest/meta-data/%2e%2e/user-data`, R],
    [`/latest/meta-data/%2E/iam/info`, R],
    [`/latest/meta-data/.%2e/user-data`, R],
    [`/latest/meta-data/.../user-data`, R],
    [`/latest/meta-data/instance-id/..`, R],
  ]));

test('percent-encoded slashes and double encoding', () =>
  checkVariants(g, [
    [`/latest/meta-data/iam%2fsecurity-credentials/instance-role`, R],
    [`/latest/meta-data/iam/security-credentials%2Finstance-role`, R],
    [`/latest%2fuser-data`, R],
    [`/latest/meta-data/iam%252fsecurity-credentials/`, R],
    [`/latest/meta-data/%252e%252e/user-data`, R],
    [`/latest/meta-data/iam/security-credentials/instance%2drole`, R],
    [`/latest/user%2Ddata`, R],
    [`/latest/meta-data/instance%2Did`, same('/latest/meta-data/instance-id')],
    [`/latest/meta-data/%69nstance-id`, same('/latest/meta-data/instance-id')],
    [`/latest/meta-data/instance-id%`, R],
    [`/latest/meta-data/instance-id%zz`, R],
  ]));

test('backslashes, raw and encoded', () =>
  checkVariants(g, [
    ['/latest/meta-data\\iam\\security-credentials\\', R],
    ['/latest\\user-data', R],
    [`${CREDS}\\instance-role`, R],
    ['\\latest/user-data', R],
    ['/latest/meta-data/iam%5Csecurity-credentials%5C', R],
    ['/latest/meta-data\\instance-id', R],
  ]));

test('upper and lower case', () =>
  checkVariants(g, [
    ['/LATEST/meta-data/iam/security-credentials/', R],
    ['/latest/META-DATA/iam/security-credentials/instance-role', R],
    ['/latest/meta-data/IAM/Security-Credentials/instance-role', R],
    ['/latest/User-Data', R],
    ['/latest/dynamic/instance-identity/PKCS7', R],
    ['/Latest/meta-data/IAM/Info', R],
    ['/latest/meta-data/Identity-Credentials/ec2/security-credentials/ec2-instance', R],
    ['/latest/meta-data/Instance-Id', same('/latest/meta-data/Instance-Id')],
  ]));

test('missing trailing slash and redirects', () =>
  checkVariants(g, [
    [CREDS, R],
    ['/latest/meta-data/iam', R],
    ['/latest/meta-data/identity-credentials', R],
    ['/latest/meta-data', same('/latest/meta-data')],
    ['/latest', same('/latest')],
    ['/latest/meta-data/placement', same('/latest/meta-data/placement')],
    ['/latest/meta-data/placement/', same('/latest/meta-data/placement/')],
    ['/latest/meta-data/instance-id/', same('/latest/meta-data/instance-id/')],
  ]));

test('version aliases', () =>
  checkVariants(g, [
    ['/1.0/meta-data/iam/security-credentials/instance-role', R],
    ['/2009-04-04/user-data', R],
    ['/2012-01-12/dynamic/instance-identity/signature', R],
    ['/2021-07-15/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', R],
    ['/2007-01-19/meta-data/iam/info', R],
    ['/1.0/meta-data/iam/security-credentials/', R],
    ['/not-a-version/meta-data/iam/security-credentials/instance-role', R],
    ['/2009-04-04/meta-data/instance-id', same('/2009-04-04/meta-data/instance-id')],
    ['/1.0/meta-data/ami-id', same('/1.0/meta-data/ami-id')],
  ]));

test('less-known credential paths', () =>
  checkVariants(g, [
    ['/latest/meta-data/identity-credentials/ec2/security-credentials/ec2-instance', R],
    ['/latest/meta-data/identity-credentials/ec2/info', R],
    ['/latest/meta-data/identity-credentials/', R],
    ['/latest/meta-data/iam/info', R],
    ['/latest/meta-data/iam/security-credentials-extended/instance-role', R],
    ['/latest/dynamic/instance-identity/pkcs7', R],
    ['/latest/dynamic/instance-identity/signature', R],
    ['/latest/dynamic/instance-identity/rsa2048', R],
    ['/latest/user-data/', R],
    ['/latest/dynamic/instance-identity/document', same('/latest/dynamic/instance-identity/document')],
  ]));

test('absolute-form and other non-origin targets', () =>
  checkVariants(g, [
    ['http://169.254.169.254/latest/meta-data/iam/security-credentials/', R],
    ['HTTP://169.254.169.254/latest/user-data', R],
    ['http://[fd00:ec2::254]/latest/user-data', R],
    ['http://169.254.169.254/latest/meta-data/instance-id', R],
    ['169.254.169.254/latest/user-data', R],
    ['*', R],
    ['latest/user-data', R],
  ]));

test('odd query separators, fragments and path parameters', () =>
  checkVariants(g, [
    [`${CREDS}/?x=1`, R],
    ['/latest/meta-data/instance-id?', R],
    ['/latest/user-data;x', R],
    ['/latest/user-data;/meta-data/instance-id', R],
    [`${CREDS}/instance-role&x`, R],
    ['/latest/user-data%3Fx', R],
    ['/latest/meta-data/instance-id#frag', R],
    ['/latest/meta-data/instance-id%23x', R],
    ['/latest/meta-data/instance-id?/../../user-data', R],
  ]));

test('control and non-ASCII bytes', () =>
  checkVariants(g, [
    ['/latest/user-data%00', R],
    ['/latest/user\x01data', R],
    ['/latest/meta-data/\xe9', R],
    ['/latest/user-data\x7f', R],
    ['/latest/meta-data/instance-id%0d%0aX-Forwarded-For:%201.2.3.4', R],
    ['/latest/meta-data/%C3%A9', R],
  ]));

test('unexpected methods', async () => {
  for (const method of ['POST', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND']) {
    await checkVariants(g, [['/latest/meta-data/instance-id', R]], [], method);
  }
  await checkVariants(
    g,
    [
      ['/latest/meta-data/instance-id', R],
      ['/latest/user-data', R],
    ],
    ['X-aws-ec2-metadata-token-ttl-seconds: 60'],
    'PUT',
  );
});

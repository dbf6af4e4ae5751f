/** `sidekey policy` for the example configs, statement by statement. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPolicies } from '../../src/core/hygiene/build-policies.js';
import { type GeneratedPolicy, PLACEHOLDER, type PolicySet, type PolicyStatement } from '../../src/core/hygiene/iam-policy.js';
import { materializeExample } from './example-config.js';

function policiesOf(example: string, options: Parameters<typeof buildPolicies>[1] = {}): PolicySet {
  const m = materializeExample(example);
  try {
    return buildPolicies(m.loaded.config, options);
  } finally {
    m.remove();
  }
}

function policy(set: PolicySet, name: string): GeneratedPolicy {
  const found = set.policies.find((p) => p.name === name);
  assert.ok(found, `no policy ${name} (have ${set.policies.map((p) => p.name).join(', ')})`);
  return found;
}

const bySid = (p: GeneratedPolicy) => new Map(p.document.Statement.map((s) => [s.Sid, s]));
const statement = (p: GeneratedPolicy, sid: string): PolicyStatement => {
  const s = bySid(p).get(sid);
  assert.ok(s, `${p.name} has no statement ${sid} (has ${[...bySid(p).keys()].join(', ')})`);
  return s;
};

function assertNoWildcards(set: PolicySet): void {
  for (const p of set.policies) {
    assert.equal(p.document.Version, '2012-10-17');
    const sids = p.document.Statement.map((s) => s.Sid);
    assert.equal(new Set(sids).size, sids.length, `${p.name}: Sids are unique`);
    for (const s of p.document.Statement) {
      assert.equal(s.Effect, 'Allow');
      for (const action of s.Action)
        assert.match(action, /^[a-z0-9-]+:[A-Za-z]+$/, `${p.name}/${s.Sid}: action ${action} names one action`);
      for (const resource of s.Resource) assert.ok(!resource.includes('*'), `${p.name}/${s.Sid}: resource ${resource} has a wildcard`);
    }
  }
}

test('examples/sidekey.yaml: the daemon may only assume the two service roles', () => {
  const set = policiesOf('sidekey.yaml');
  assertNoWildcards(set);
  assert.deepEqual(
    set.policies.map((p) => p.name),
    ['sidekey-daemon'],
  );
  assert.deepEqual(policy(set, 'sidekey-daemon').document.Statement, [
    {
      Sid: 'AssumeServiceRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: ['arn:aws:iam::123456789012:role/WebAppRole', 'arn:aws:iam::123456789012:role/WorkerRole'],
    },
  ]);
});

test('examples/aws-backends.yaml: daemon statements, one by one', () => {
  const set = policiesOf('aws-backends.yaml');
  assertNoWildcards(set);
  assert.deepEqual(
    set.policies.map((p) => p.name),
    ['sidekey-daemon', 'sidekey-service-reports-rds', 'sidekey-secrets-admin-cryptex', 'sidekey-secrets-fetch-cryptex'],
  );
  const daemon = policy(set, 'sidekey-daemon');
  assert.deepEqual(
    [...bySid(daemon).keys()],
    [
      'AssumeServiceRoles',
      'TagServiceSessions',
      'SetServiceSourceIdentity',
      'ConnectAsDatabaseUsers',
      'WriteSecretsWithKms',
      'WriteSecretsTable',
      'ListSecretNames',
    ],
  );
  assert.deepEqual(statement(daemon, 'AssumeServiceRoles').Resource, [
    'arn:aws:iam::123456789012:role/BillingRole',
    'arn:aws:iam::123456789012:role/ReportsRole',
  ]);
  // Only the role whose sessions carry tags / a source identity gets those actions.
  assert.deepEqual(statement(daemon, 'TagServiceSessions').Resource, ['arn:aws:iam::123456789012:role/BillingRole']);
  assert.deepEqual(statement(daemon, 'SetServiceSourceIdentity').Resource, ['arn:aws:iam::123456789012:role/BillingRole']);
  // orders is signed by the base credentials; reporting by the reports role (its own document).
  assert.deepEqual(statement(daemon, 'ConnectAsDatabaseUsers').Resource, [
    'arn:aws:rds-db:us-east-1:<ACCOUNT_ID>:dbuser:<DBI_RESOURCE_ID_OF_ORDERS>/app_user',
  ]);
  const kms = statement(daemon, 'WriteSecretsWithKms');
  assert.deepEqual(kms.Action, ['kms:Decrypt', 'kms:GenerateDataKey']);
  assert.deepEqual(kms.Resource, ['arn:aws:kms:us-east-1:<ACCOUNT_ID>:key/<KEY_ID_OF_SIDEKEY_CRYPTEX>']);
  assert.deepEqual(kms.Condition, {
    StringEquals: { 'kms:EncryptionContext:app': 'cryptex' },
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ['app', 'name', 'serial'] },
  });
  const table = statement(daemon, 'WriteSecretsTable');
  assert.deepEqual(table.Resource, ['arn:aws:dynamodb:us-east-1:<ACCOUNT_ID>:table/sidekey-cryptex-secrets']);
  assert.deepEqual(table.Condition, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['cryptex/*'] } });
  assert.ok(!table.Action.includes('dynamodb:Scan'), 'Scan cannot be limited by LeadingKeys');
  const list = statement(daemon, 'ListSecretNames');
  assert.deepEqual(list.Action, ['dynamodb:Scan']);
  assert.deepEqual(list.Condition?.['ForAllValues:StringEquals'], { 'dynamodb:Attributes': ['Application', 'SecretName'] });
  assert.deepEqual(list.Condition?.Null, { 'dynamodb:Attributes': 'false' });
});

test('examples/aws-backends.yaml: service, secrets admin and fetch documents', () => {
  const set = policiesOf('aws-backends.yaml');
  const rds = policy(set, 'sidekey-service-reports-rds');
  assert.equal(rds.attachTo, 'arn:aws:iam::123456789012:role/ReportsRole');
  assert.deepEqual(statement(rds, 'ConnectAsDatabaseUsers').Resource, [
    'arn:aws:rds-db:us-east-1:<ACCOUNT_ID>:dbuser:<DBI_RESOURCE_ID_OF_REPORTING>/reporter',
  ]);
  const admin = policy(set, 'sidekey-secrets-admin-cryptex');
  assert.deepEqual([...bySid(admin).keys()], ['WriteSecretsWithKms', 'WriteSecretsTable', 'ListSecretNames']);
  const fetch = policy(set, 'sidekey-secrets-fetch-cryptex');
  assert.deepEqual([...bySid(fetch).keys()], ['ReadSecretsWithKms', 'ReadSecretsTable']);
  assert.deepEqual(statement(fetch, 'ReadSecretsWithKms').Action, ['kms:Decrypt'], 'the fetch role never gets data keys');
  assert.deepEqual(statement(fetch, 'ReadSecretsTable').Action, ['dynamodb:GetItem', 'dynamodb:Query']);
  assert.deepEqual(statement(fetch, 'ReadSecretsTable').Condition, {
    'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['cryptex/*'] },
  });
});

test('every placeholder left in a document is explained in the notes; --account-id fills the account', () => {
  const set = policiesOf('aws-backends.yaml');
  const text = JSON.stringify(set.policies);
  const placeholders = new Set(text.match(new RegExp(PLACEHOLDER.source, 'g')));
  assert.deepEqual([...placeholders].sort(), [
    '<ACCOUNT_ID>',
    '<DBI_RESOURCE_ID_OF_ORDERS>',
    '<DBI_RESOURCE_ID_OF_REPORTING>',
    '<KEY_ID_OF_SIDEKEY_CRYPTEX>',
  ]);
  for (const placeholder of placeholders)
    assert.ok(
      set.notes.some((n) => n.startsWith(placeholder)),
      `no note explains ${placeholder}`,
    );
  const filled = policiesOf('aws-backends.yaml', { accountId: '210987654321' });
  assert.ok(!JSON.stringify(filled.policies).includes('<ACCOUNT_ID>'));
  assert.ok(JSON.stringify(filled.policies).includes('arn:aws:dynamodb:us-east-1:210987654321:table/sidekey-cryptex-secrets'));
});

test("the agent API: GetSecretValue on each token's names, GetParameter on its parameters, on the role it reads as", () => {
  const set = buildPolicies(
    {
      services: { payments: { assumed_role: { RoleArn: 'arn:aws:iam::111122223333:role/payments' } } },
      aws_defaults: { region: 'eu-west-1' },
      agent: {
        tokens: [
          { id: 'web', token: 'x', names: ['prod/web/*', 'shared/api-key'], parameters: ['/prod/web/*'] },
          { id: 'ops', token: 'y', names: ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:ops-AbCdEf'], parameters: [] },
          { id: 'pay', token: 'z', names: [], parameters: ['/prod/payments/key', 'flat-name'], service: 'payments' },
        ],
      },
    } as unknown as Parameters<typeof buildPolicies>[0],
    { accountId: '111122223333' },
  );
  const base = set.policies[0] as GeneratedPolicy;
  assert.deepEqual(statement(base, 'ReadAgentSecrets'), {
    Sid: 'ReadAgentSecrets',
    Effect: 'Allow',
    Action: ['secretsmanager:GetSecretValue'],
    Resource: [
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:ops-AbCdEf',
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/web/*',
      'arn:aws:secretsmanager:eu-west-1:111122223333:secret:shared/api-key-??????',
    ],
  });
  assert.deepEqual(statement(base, 'ReadAgentParameters').Resource, ['arn:aws:ssm:eu-west-1:111122223333:parameter/prod/web/*']);
  assert.deepEqual(statement(base, 'ReadAgentParameterPaths'), {
    Sid: 'ReadAgentParameterPaths',
    Effect: 'Allow',
    Action: ['ssm:GetParametersByPath'],
    Resource: ['arn:aws:ssm:eu-west-1:111122223333:parameter/prod/web', 'arn:aws:ssm:eu-west-1:111122223333:parameter/prod/web/*'],
  });
  const pay = set.policies.find((p) => p.name === 'sidekey-service-payments-agent') as GeneratedPolicy;
  assert.equal(pay.attachTo, 'arn:aws:iam::111122223333:role/payments');
  assert.deepEqual(pay.document.Statement, [
    {
      Sid: 'ReadAgentParameters',
      Effect: 'Allow',
      Action: ['ssm:GetParameter'],
      Resource: [
        'arn:aws:ssm:eu-west-1:111122223333:parameter/flat-name',
        'arn:aws:ssm:eu-west-1:111122223333:parameter/prod/payments/key',
      ],
    },
  ]);
  assert.ok(!JSON.stringify(base).includes('parameter/prod/payments'), "the daemon's own policy grants nothing read as a service");
  assert.ok(set.notes.some((n) => n.includes('kms:ViaService = secretsmanager')));
  assert.ok(set.notes.some((n) => n.includes('PARAMETER_ARN')));
});

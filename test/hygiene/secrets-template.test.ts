/**
 * The CloudFormation template parses and names every resource the daemon expects (the configured
 * table and alias, the store's key schema); names break the name rules with a message naming the
 * rule; `--deploy`'s core creates, updates and follows a stack on a SigV4-verifying peer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { parse } from 'yaml';
import { isSidekeyError } from '../../src/core/errors.js';
import { deployStack } from '../../src/core/hygiene/deploy-stack.js';
import { buildSecretsTemplate, LOGICAL_IDS, renderTemplate } from '../../src/core/hygiene/secrets-template.js';
import { type TemplateFlags, templateInput } from '../../src/core/hygiene/template-input.js';
import { CloudFormationPeer } from '../peers/cloudformation-peer.js';
import { materializeExample } from './example-config.js';

const ADMIN = 'arn:aws:iam::123456789012:role/SecretsAdmin';
const FETCH = 'arn:aws:iam::123456789012:role/MyApplicationRole';

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string }>;

function templateFor(flags: TemplateFlags, example = 'aws-backends.yaml') {
  const m = materializeExample(example);
  try {
    const input = templateInput(m.loaded.config, flags);
    return { input, config: m.loaded.config, template: buildSecretsTemplate(input) };
  } finally {
    m.remove();
  }
}

describe('template', () => {
  test('names the table and alias the config uses, with the store key schema', () => {
    const { config, template } = templateFor({
      adminPrincipals: [ADMIN],
      fetchPrincipals: [FETCH],
      environment: 'prod',
      owner: 'platform-team',
    });
    for (const format of ['yaml', 'json'] as const) {
      const parsed = (format === 'json' ? JSON.parse(renderTemplate(template, format)) : parse(renderTemplate(template, format))) as {
        Resources: Resources;
      };
      const resources = parsed.Resources;
      const table = resources[LOGICAL_IDS.table]?.Properties as Record<string, unknown>;
      assert.equal(resources[LOGICAL_IDS.table]?.Type, 'AWS::DynamoDB::Table');
      assert.equal(table.TableName, config.secrets?.store.type === 'dynamodb' ? config.secrets.store.table : undefined);
      assert.deepEqual(table.KeySchema, [
        { AttributeName: 'Name', KeyType: 'HASH' },
        { AttributeName: 'Serial', KeyType: 'RANGE' },
      ]);
      assert.deepEqual(table.AttributeDefinitions, [
        { AttributeName: 'Name', AttributeType: 'S' },
        { AttributeName: 'Serial', AttributeType: 'N' },
      ]);
      assert.equal(table.BillingMode, 'PAY_PER_REQUEST');
      assert.deepEqual(table.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
      assert.equal((table.SSESpecification as { SSEEnabled: boolean }).SSEEnabled, true);
      assert.equal(
        resources[LOGICAL_IDS.alias]?.Properties.AliasName,
        config.secrets?.keyring.type === 'kms' ? config.secrets.keyring.key_id : undefined,
      );
      assert.equal(resources[LOGICAL_IDS.key]?.Type, 'AWS::KMS::Key');
      assert.equal(resources[LOGICAL_IDS.key]?.DeletionPolicy, 'Retain');
      assert.equal(resources[LOGICAL_IDS.table]?.DeletionPolicy, 'Retain');
      const tags = table.Tags as { Key: string; Value: string }[];
      assert.deepEqual(Object.fromEntries(tags.map((t) => [t.Key, t.Value])), {
        Application: 'cryptex',
        ManagedBy: 'sidekey',
        Environment: 'prod',
        Owner: 'platform-team',
      });
    }
  });

  test('the key policy separates admins (data keys and decrypt) from fetch roles (decrypt only), bound to the application', () => {
    const { template } = templateFor({ adminPrincipals: [ADMIN], fetchPrincipals: [FETCH] });
    const key = (template.Resources as Resources)[LOGICAL_IDS.key]?.Properties as {
      KeyPolicy: { Statement: Record<string, unknown>[] };
      EnableKeyRotation: boolean;
    };
    assert.equal(key.EnableKeyRotation, true);
    const [account, admins, fetchers] = key.KeyPolicy.Statement as { Action: string[]; Principal: unknown; Condition?: unknown }[];
    assert.ok(account && admins && fetchers);
    assert.ok(
      !account.Action.some((a) => ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:Encrypt', 'kms:*'].includes(a)),
      'the account administers but cannot use the key',
    );
    assert.deepEqual(admins.Action, ['kms:GenerateDataKey', 'kms:Decrypt']);
    assert.deepEqual(admins.Principal, { AWS: { Ref: 'AdminPrincipalArns' } });
    assert.deepEqual(fetchers.Action, ['kms:Decrypt']);
    assert.deepEqual(fetchers.Principal, { AWS: { Ref: 'FetchPrincipalArns' } });
    for (const s of [admins, fetchers])
      assert.deepEqual((s.Condition as { StringEquals: unknown }).StringEquals, { 'kms:EncryptionContext:app': 'cryptex' });
    const parameters = template.Parameters as Record<string, { Default?: string }>;
    assert.equal(parameters.AdminPrincipalArns?.Default, ADMIN);
    assert.equal(parameters.FetchPrincipalArns?.Default, FETCH);
  });

  test('defaults without a config: sidekey-APP names', () => {
    const input = templateInput(undefined, { application: 'cryptex' });
    assert.deepEqual(
      [input.tableName, input.aliasName, input.stackName],
      ['sidekey-cryptex-secrets', 'sidekey-cryptex', 'sidekey-cryptex-secrets'],
    );
  });

  test('every name is checked by the name rules, and the error says which rule and which flag', () => {
    const cases: [TemplateFlags, RegExp][] = [
      [{ application: '../../../etc' }, /--application .* must not contain path traversal/],
      [{ environment: 'prod; rm -rf' }, /--environment .* shell metacharacters/],
      [{ tableName: 'Secrets-Table' }, /--table-name .* must be lowercase/],
      [{ stackName: `s${'x'.repeat(63)}` }, /--stack-name .* at most 63 characters/],
      [{ aliasName: '-sidekey' }, /--alias-name .* must start and end with a letter or digit/],
      [{ owner: 'team_a' }, /--owner .* only lowercase letters, digits and hyphens/],
    ];
    for (const [flags, message] of cases) {
      assert.throws(
        () => templateInput(undefined, flags),
        (error: unknown) => isSidekeyError(error, 'NAME_INVALID') && message.test(error.message),
      );
    }
    assert.throws(() => templateInput(undefined, { adminPrincipals: ['arn:aws:iam::123:root'] }), /not an IAM role or user ARN/);
    assert.throws(() => templateInput(undefined, { tags: ['no-equals'] }), /KEY=VALUE/);
  });
});

describe('deploy', () => {
  const key = { accessKeyId: 'AKIDCFNPEER000000001', secretAccessKey: 'cloudformation-peer-secret-for-tests-01' };
  let cfn: CloudFormationPeer;
  let client: CloudFormationClient;
  before(async () => {
    cfn = new CloudFormationPeer([key]);
    const url = await cfn.peer.listen();
    client = new CloudFormationClient({ region: 'us-east-1', endpoint: url, credentials: key, maxAttempts: 1 });
  });
  after(async () => {
    client.destroy();
    await cfn.peer.close();
  });

  const request = (body: string, lines: string[], stackName = 'sidekey-cryptex-secrets') => ({
    client,
    stackName,
    templateBody: body,
    parameters: { AdminPrincipalArns: ADMIN, FetchPrincipalArns: FETCH },
    tags: [{ Key: 'Application', Value: 'cryptex' }],
    progress: (line: string) => lines.push(line),
    pollIntervalMs: 1,
  });

  test('creates, reports each resource, then updates, then says unchanged', async () => {
    const { template } = templateFor({ adminPrincipals: [ADMIN], fetchPrincipals: [FETCH] });
    const body = renderTemplate(template, 'yaml');
    const lines: string[] = [];
    const created = await deployStack(request(body, lines));
    assert.equal(created.action, 'created');
    assert.equal(created.status, 'CREATE_COMPLETE');
    assert.equal(created.outputs.TableName, 'peer-value-of-TableName');
    for (const id of Object.values(LOGICAL_IDS))
      assert.ok(
        lines.some((l) => l.includes(`${id} CREATE_COMPLETE`)),
        `no progress line for ${id}: ${lines.join(' | ')}`,
      );
    const stack = [...cfn.stacks.values()][0];
    assert.deepEqual(stack?.parameters, { AdminPrincipalArns: ADMIN, FetchPrincipalArns: FETCH });
    assert.ok(
      cfn.peer.calls.every((c) => c.action),
      'every call verified',
    );
    assert.equal(cfn.peer.refusedSignatures, 0);

    const updatedLines: string[] = [];
    const updated = await deployStack(
      request(
        renderTemplate(templateFor({ adminPrincipals: [ADMIN], fetchPrincipals: [FETCH], owner: 'security' }).template, 'yaml'),
        updatedLines,
      ),
    );
    assert.equal(updated.action, 'updated');
    assert.ok(
      !updatedLines.some((l) => l.includes('SecretsKey CREATE_COMPLETE')),
      `an update reports only its own events: ${updatedLines.join(' | ')}`,
    );
    const again = await deployStack(
      request(renderTemplate(templateFor({ adminPrincipals: [ADMIN], fetchPrincipals: [FETCH], owner: 'security' }).template, 'yaml'), []),
    );
    assert.equal(again.action, 'unchanged');
  });

  test('a failing resource ends in SETUP_FAILED naming the state; a rolled-back stack is refused with what to do', async () => {
    cfn.failResource = LOGICAL_IDS.table;
    const lines: string[] = [];
    const body = renderTemplate(templateFor({}).template, 'json');
    await assert.rejects(
      deployStack(request(body, lines, 'sidekey-broken')),
      (error: unknown) => isSidekeyError(error, 'SETUP_FAILED') && /ROLLBACK_COMPLETE/.test(error.message),
    );
    assert.ok(lines.some((l) => l.includes('SecretsTable CREATE_FAILED: Resource handler returned message')));
    cfn.failResource = undefined;
    await assert.rejects(deployStack(request(body, [], 'sidekey-broken')), /cannot be updated: delete it/);
  });

  test('wrong credentials are refused by the peer and reported as SETUP_FAILED', async () => {
    const wrong = new CloudFormationClient({
      region: 'us-east-1',
      endpoint: cfn.peer.url,
      credentials: { accessKeyId: key.accessKeyId, secretAccessKey: 'not-the-secret' },
      maxAttempts: 1,
    });
    try {
      await assert.rejects(deployStack({ ...request('{}', []), client: wrong }), (error: unknown) => isSidekeyError(error, 'SETUP_FAILED'));
      assert.ok(cfn.peer.refusedSignatures > 0);
    } finally {
      wrong.destroy();
    }
  });
});

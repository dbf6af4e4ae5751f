/**
 * `ecs-secrets setup` as ecs-secrets does it, against the CloudFormation and KMS peers: the stack
 * `ECS-Secrets-<app>` with ecs-secrets' parameters, resources and outputs, then the alias
 * `alias/ECSSecretsMaskerKey-<app>` on the key the stack made; run again, the stack is adopted and
 * the existing alias is fine. The `ecs-secrets setup` command prints these steps in that tool's words.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';
import { ecsSecretsPolicyStatement, ecsSecretsStackName, setupEcsSecrets } from '../../src/core/hygiene/ecs-secrets-stack.js';
import { CloudFormationPeer } from '../peers/cloudformation-peer.js';
import { type KmsPeer, startKmsPeer } from '../peers/kms-peer.js';

const REGION = 'us-east-1';
const APP = 'setupapp';
const CREATE = 'arn:aws:iam::111122223333:role/SecretsAdmin';
const FETCH = 'arn:aws:iam::111122223333:role/MyApplicationRole';
const TABLE_ARN = `arn:aws:dynamodb:${REGION}:111122223333:table/ECS-Secrets-${APP}-Secrets`;
let kmsPeer: KmsPeer;
let cfn: CloudFormationPeer;
let cloudformation: CloudFormationClient;
let kms: KMSClient;
let keyArn: string;

before(async () => {
  kmsPeer = await startKmsPeer({ region: REGION });
  cfn = new CloudFormationPeer([kmsPeer.credentials]);
  const url = await cfn.peer.listen();
  keyArn = kmsPeer.createKey();
  // What the stack's resources would give as outputs: the table's ARN and the key it made.
  cfn.outputValues = { secretsDynamoTable: TABLE_ARN, kmsKey: keyArn.split('/').at(-1) as string };
  cloudformation = new CloudFormationClient({ region: REGION, endpoint: url, credentials: kmsPeer.credentials, maxAttempts: 1 });
  kms = new KMSClient({ region: REGION, endpoint: kmsPeer.url, credentials: kmsPeer.credentials });
});
after(async () => {
  cloudformation?.destroy();
  kms?.destroy();
  await cfn?.peer.close();
  await kmsPeer?.close();
});

test("setup creates ecs-secrets' stack and alias, then adopts them on a second run", async () => {
  const lines: string[] = [];
  const request = {
    cloudformation,
    kms,
    app: APP,
    createPrincipal: CREATE,
    fetchRole: FETCH,
    info: (l: string) => lines.push(l),
    pollIntervalMs: 1,
  };
  const first = await setupEcsSecrets(request);
  assert.deepEqual(first, { table: TABLE_ARN, key: keyArn.split('/').at(-1) });
  assert.deepEqual(lines, [`Unable to describe stack: ${ecsSecretsStackName(APP)}, creating a new one`]);
  const stack = [...cfn.stacks.values()].find((s) => s.name === `ECS-Secrets-${APP}`);
  assert.ok(stack);
  assert.deepEqual(stack.parameters, {
    ECSSecretsTableName: `ECS-Secrets-${APP}-Secrets`,
    ECSSecretsIAMPrincipalForCreatingSecrets: CREATE,
    ECSSecretsIAMRoleArn: FETCH,
  });
  const template = stack.template as { Resources: Record<string, { Type: string }>; Outputs: Record<string, unknown> };
  assert.equal(template.Resources.ECSSecretsTable?.Type, 'AWS::DynamoDB::Table');
  assert.equal(template.Resources.ECSSecretsMasterKey?.Type, 'AWS::KMS::Key');
  assert.deepEqual(Object.keys(template.Outputs).sort(), ['kmsKey', 'secretsDynamoTable']);
  const alias = kmsPeer.calls.find((c) => c.operation === 'CreateAlias');
  assert.equal(alias?.keyId, keyArn, 'the alias names the key the stack made');

  lines.length = 0;
  assert.deepEqual(await setupEcsSecrets(request), first);
  assert.deepEqual(lines, [`Returning existing stack: ${ecsSecretsStackName(APP)}`]);
});

test("the printed policy statements are ecs-secrets' own", () => {
  assert.deepEqual(JSON.parse(ecsSecretsPolicyStatement(TABLE_ARN, 'read')), {
    Effect: 'Allow',
    Action: ['dynamodb:Query', 'dynamodb:GetItem'],
    Resource: [TABLE_ARN],
  });
  assert.deepEqual(JSON.parse(ecsSecretsPolicyStatement(TABLE_ARN, 'write')).Action, [
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
  ]);
});

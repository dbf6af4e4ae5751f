/**
 * `ecs-secrets setup`: the stack ecs-secrets' own setup makes, so an application set up by either
 * tool is the same: stack `ECS-Secrets-<app>` with parameters `ECSSecretsTableName`,
 * `ECSSecretsIAMPrincipalForCreatingSecrets` and `ECSSecretsIAMRoleArn`; a DynamoDB table
 * (`ECSSecretsTable`, HASH `Name` S, RANGE `Serial` N, provisioned 5/5) and a KMS key
 * (`ECSSecretsMasterKey`) whose policy lets the create principal encrypt and make data keys and the
 * fetch role only decrypt; outputs `secretsDynamoTable` (the table ARN) and `kmsKey`. An existing
 * stack is adopted as it is, as ecs-secrets does. The template is written here from that
 * description (docs/secrets.md), not taken from ecs-secrets.
 */

import { type CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { CreateAliasCommand, type KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { SidekeyError } from '../errors.js';
import { ECS_SECRETS_KEY_ALIAS_PREFIX } from '../secrets/ecs-secrets-codec.js';
import { ecsSecretsTable } from '../secrets/ecs-secrets-table.js';
import { SECRETS_TABLE_ATTRIBUTES, SECRETS_TABLE_KEY_SCHEMA } from '../secrets/secrets-table-layout.js';
import { deployStack } from './deploy-stack.js';

export const ECS_SECRETS_OUTPUT_TABLE = 'secretsDynamoTable';
export const ECS_SECRETS_OUTPUT_KEY = 'kmsKey';

export const ecsSecretsStackName = (app: string) => `ECS-Secrets-${app}`;

/** ecs-secrets' stack as a CloudFormation template (JSON). */
export function ecsSecretsTemplate(): string {
  const principal = (ref: string) => ({ AWS: { Ref: ref } });
  return JSON.stringify(
    {
      AWSTemplateFormatVersion: '2010-09-09',
      Description: 'ECS Secrets: a DynamoDB table of encrypted secrets and the KMS key their data keys come from',
      Parameters: {
        ECSSecretsTableName: { Type: 'String' },
        ECSSecretsIAMPrincipalForCreatingSecrets: { Type: 'String' },
        ECSSecretsIAMRoleArn: { Type: 'String' },
      },
      Resources: {
        ECSSecretsTable: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            TableName: { Ref: 'ECSSecretsTableName' },
            AttributeDefinitions: SECRETS_TABLE_ATTRIBUTES,
            KeySchema: SECRETS_TABLE_KEY_SCHEMA,
            ProvisionedThroughput: { ReadCapacityUnits: 5, WriteCapacityUnits: 5 },
          },
        },
        ECSSecretsMasterKey: {
          Type: 'AWS::KMS::Key',
          Properties: {
            Description: 'ECS Secrets master key',
            KeyPolicy: {
              Version: '2012-10-17',
              Statement: [
                {
                  Sid: 'AccountAdministers',
                  Effect: 'Allow',
                  Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
                  Action: 'kms:*',
                  Resource: '*',
                },
                {
                  Sid: 'CreatePrincipalWrites',
                  Effect: 'Allow',
                  Principal: principal('ECSSecretsIAMPrincipalForCreatingSecrets'),
                  Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
                  Resource: '*',
                },
                {
                  Sid: 'FetchRoleReads',
                  Effect: 'Allow',
                  Principal: principal('ECSSecretsIAMRoleArn'),
                  Action: ['kms:Decrypt', 'kms:DescribeKey'],
                  Resource: '*',
                },
              ],
            },
          },
        },
      },
      Outputs: {
        [ECS_SECRETS_OUTPUT_TABLE]: { Value: { 'Fn::GetAtt': ['ECSSecretsTable', 'Arn'] } },
        [ECS_SECRETS_OUTPUT_KEY]: { Value: { Ref: 'ECSSecretsMasterKey' } },
      },
    },
    null,
    2,
  );
}

export interface EcsSecretsSetupRequest {
  readonly cloudformation: CloudFormationClient;
  readonly kms: KMSClient;
  readonly app: string;
  readonly createPrincipal: string;
  readonly fetchRole: string;
  /** One line per step, in ecs-secrets' words. */
  readonly info: (line: string) => void;
  readonly pollIntervalMs?: number;
}

function outputsOf(stack: Stack | undefined): Record<string, string> {
  return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

/** Creates (or adopts) the stack, names the alias, and returns the table ARN and key id. */
export async function setupEcsSecrets(request: EcsSecretsSetupRequest): Promise<{ table: string; key: string }> {
  const stackName = ecsSecretsStackName(request.app);
  let outputs: Record<string, string>;
  let existing: Stack | undefined;
  try {
    existing = (await request.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch {
    existing = undefined;
  }
  if (existing) {
    request.info(`Returning existing stack: ${stackName}`);
    outputs = outputsOf(existing);
  } else {
    request.info(`Unable to describe stack: ${stackName}, creating a new one`);
    const result = await deployStack({
      client: request.cloudformation,
      stackName,
      templateBody: ecsSecretsTemplate(),
      parameters: {
        ECSSecretsTableName: ecsSecretsTable(request.app),
        ECSSecretsIAMPrincipalForCreatingSecrets: request.createPrincipal,
        ECSSecretsIAMRoleArn: request.fetchRole,
      },
      tags: [],
      progress: () => {},
      ...(request.pollIntervalMs !== undefined ? { pollIntervalMs: request.pollIntervalMs } : {}),
    });
    outputs = result.outputs;
  }
  const table = outputs[ECS_SECRETS_OUTPUT_TABLE];
  const key = outputs[ECS_SECRETS_OUTPUT_KEY];
  if (!table) throw new SidekeyError('SETUP_FAILED', 'Unable to get secrets table name');
  if (!key)
    throw new SidekeyError('SETUP_FAILED', 'Error getting customer master key for application: Unable to get customer master key id');
  try {
    await request.kms.send(new CreateAliasCommand({ AliasName: `${ECS_SECRETS_KEY_ALIAS_PREFIX}${request.app}`, TargetKeyId: key }));
  } catch (error) {
    if (!(error instanceof KMSServiceException && error.name === 'AlreadyExistsException'))
      throw new SidekeyError('SETUP_FAILED', `Error creating KMS alias for MasterKey: ${(error as Error).name}`, { cause: error });
  }
  return { table, key };
}

/** The policy statements ecs-secrets' setup prints for the fetch role (read) and the create principal (write). */
export function ecsSecretsPolicyStatement(table: string, access: 'read' | 'write'): string {
  const actions =
    access === 'read' ? ['dynamodb:Query', 'dynamodb:GetItem'] : ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
  return JSON.stringify({ Effect: 'Allow', Action: actions, Resource: [table] }, null, 4);
}

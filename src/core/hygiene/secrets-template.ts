/**
 * The CloudFormation template for the secrets backend on AWS: a KMS key whose key policy gives
 * the secrets admins GenerateDataKey and Decrypt and the fetch roles Decrypt only, both bound to
 * the application's encryption context; its alias; and the DynamoDB table in the store's layout
 * (src/core/secrets/dynamodb-store.ts), on demand, with point-in-time recovery, encryption at
 * rest and deletion protection. Key and table are retained when the stack is deleted: losing
 * either loses every secret.
 */
import { stringify } from 'yaml';
import { SECRETS_TABLE_ATTRIBUTES, SECRETS_TABLE_KEY_SCHEMA } from '../secrets/secrets-table-layout.js';
import { ENCRYPTION_CONTEXT_KEYS } from './secrets-policy-statements.js';
import type { TemplateInput } from './template-input.js';

/** Days KMS waits before deleting a key scheduled for deletion (the longest it allows). */
export const KEY_DELETION_WINDOW_DAYS = 30;
/** Logical ids: stable, so `--deploy` updates rather than replaces. */
export const LOGICAL_IDS = { key: 'SecretsKey', alias: 'SecretsKeyAlias', table: 'SecretsTable' } as const;

/** Key administration for the account (through IAM policies), without any use of the key. */
export const KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

export type CloudFormationTemplate = Readonly<Record<string, unknown>>;

const principalsParameter = (description: string, defaults: readonly string[]) => ({
  Type: 'CommaDelimitedList',
  Description: description,
  ...(defaults.length > 0 ? { Default: defaults.join(',') } : {}),
});

export function buildSecretsTemplate(input: TemplateInput): CloudFormationTemplate {
  const context = {
    StringEquals: { 'kms:EncryptionContext:app': input.application },
    'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ENCRYPTION_CONTEXT_KEYS },
  };
  const keyPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountAdministersTheKeyButCannotUseIt',
        Effect: 'Allow',
        Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
        Action: KEY_ADMIN_ACTIONS,
        Resource: '*',
      },
      {
        Sid: 'SecretsAdminsCreateRotateAndRevoke',
        Effect: 'Allow',
        Principal: { AWS: { Ref: 'AdminPrincipalArns' } },
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: '*',
        Condition: context,
      },
      {
        Sid: 'FetchRolesDecryptOnly',
        Effect: 'Allow',
        Principal: { AWS: { Ref: 'FetchPrincipalArns' } },
        Action: ['kms:Decrypt'],
        Resource: '*',
        Condition: context,
      },
    ],
  };
  const tags = input.tags.map((t) => ({ Key: t.Key, Value: t.Value }));
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `sidekey secrets backend for application ${input.application}: KMS key ${`alias/${input.aliasName}`} and DynamoDB table ${input.tableName}`,
    Parameters: {
      AdminPrincipalArns: principalsParameter(
        'Roles or users that create, rotate and revoke secrets (kms:GenerateDataKey and kms:Decrypt)',
        input.adminPrincipals,
      ),
      FetchPrincipalArns: principalsParameter('Roles that fetch secrets (kms:Decrypt only)', input.fetchPrincipals),
    },
    Resources: {
      [LOGICAL_IDS.key]: {
        Type: 'AWS::KMS::Key',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          Description: `sidekey secrets of application ${input.application}: wraps one data key per secret version`,
          KeySpec: 'SYMMETRIC_DEFAULT',
          KeyUsage: 'ENCRYPT_DECRYPT',
          EnableKeyRotation: true,
          PendingWindowInDays: KEY_DELETION_WINDOW_DAYS,
          KeyPolicy: keyPolicy,
          Tags: tags,
        },
      },
      [LOGICAL_IDS.alias]: {
        Type: 'AWS::KMS::Alias',
        Properties: { AliasName: `alias/${input.aliasName}`, TargetKeyId: { Ref: LOGICAL_IDS.key } },
      },
      [LOGICAL_IDS.table]: {
        Type: 'AWS::DynamoDB::Table',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          TableName: input.tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [...SECRETS_TABLE_ATTRIBUTES],
          KeySchema: [...SECRETS_TABLE_KEY_SCHEMA],
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          // Payloads are already envelope-encrypted under the key above; this covers the rest of each row.
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
          DeletionProtectionEnabled: true,
          Tags: tags,
        },
      },
    },
    Outputs: {
      KeyArn: { Description: 'secrets.keyring.key_id (or use the alias)', Value: { 'Fn::GetAtt': [LOGICAL_IDS.key, 'Arn'] } },
      KeyAlias: { Description: 'secrets.keyring: { type: kms, key_id: ... }', Value: { Ref: LOGICAL_IDS.alias } },
      TableName: { Description: 'secrets.store: { type: dynamodb, table: ... }', Value: { Ref: LOGICAL_IDS.table } },
      TableArn: { Value: { 'Fn::GetAtt': [LOGICAL_IDS.table, 'Arn'] } },
    },
  };
}

export function renderTemplate(template: CloudFormationTemplate, format: 'yaml' | 'json'): string {
  return format === 'json' ? `${JSON.stringify(template, null, 2)}\n` : stringify(template, { lineWidth: 0 });
}

/**
 * The IAM policy statements `sidekey secrets setup` prints, as ecs-secrets' setup does: one
 * document for the admin role (writes) and one for the fetch role (reads). With DynamoDB the
 * partition key starts with the application, so `dynamodb:LeadingKeys` confines a role to it; with
 * KMS the encryption context names the application, so `kms:EncryptionContext:app` does too.
 */
import type { SecretsConfig } from '../../core/config/sections/secrets-section.js';

interface Statement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocuments {
  readonly admin: { readonly Version: '2012-10-17'; readonly Statement: readonly Statement[] };
  readonly fetch: { readonly Version: '2012-10-17'; readonly Statement: readonly Statement[] };
}

const document = (Statement: Statement[]) => ({ Version: '2012-10-17' as const, Statement });

export function iamPolicies(secrets: SecretsConfig, app: string, defaultRegion: string | undefined): PolicyDocuments | undefined {
  const admin: Statement[] = [];
  const fetch: Statement[] = [];
  if (secrets.store.type === 'dynamodb') {
    const table = `arn:aws:dynamodb:${secrets.store.region ?? defaultRegion ?? 'REGION'}:ACCOUNT_ID:table/${secrets.store.table}`;
    const leading = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${app}/*`] } };
    admin.push(
      {
        Sid: 'SecretsWrite',
        Effect: 'Allow',
        Action: [
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:GetItem',
          'dynamodb:Query',
        ],
        Resource: [table],
        Condition: leading,
      },
      { Sid: 'SecretsList', Effect: 'Allow', Action: ['dynamodb:Scan', 'dynamodb:DescribeTable'], Resource: [table] },
    );
    fetch.push({
      Sid: 'SecretsRead',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: [table],
      Condition: leading,
    });
  }
  if (secrets.keyring.type === 'kms') {
    const keyId = secrets.keyring.key_id;
    const region = secrets.keyring.region ?? defaultRegion ?? 'REGION';
    const key = keyId.startsWith('arn:')
      ? keyId
      : `arn:aws:kms:${region}:ACCOUNT_ID:key/${keyId.startsWith('alias/') ? 'KEY_ID_OF_' + keyId.slice(6) : keyId}`;
    const context = { StringEquals: { 'kms:EncryptionContext:app': app } };
    admin.push({
      Sid: 'SecretsEncrypt',
      Effect: 'Allow',
      Action: ['kms:GenerateDataKey', 'kms:Decrypt', 'kms:Encrypt', 'kms:DescribeKey'],
      Resource: [key],
      Condition: context,
    });
    fetch.push({ Sid: 'SecretsDecrypt', Effect: 'Allow', Action: ['kms:Decrypt'], Resource: [key], Condition: context });
  }
  return admin.length === 0 ? undefined : { admin: document(admin), fetch: document(fetch) };
}

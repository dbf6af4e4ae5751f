/**
 * KMS and DynamoDB statements for the secrets store, scoped to applications: KMS use only with
 * the encryption context the store binds (`app`, `name`, `serial`, see
 * src/core/secrets/encryption-context.ts), DynamoDB items only under the `app/` partition keys
 * (the store's `Name` = `app/name`, see src/core/secrets/dynamodb-store.ts).
 */
import { ECS_SECRETS_KEY_ALIAS_PREFIX } from '../secrets/ecs-secrets-codec.js';
import { ecsSecretsTable } from '../secrets/ecs-secrets-table.js';
import type { PolicyStatement } from './iam-policy.js';

/** The encryption-context keys the store sends with every KMS call. */
export const ENCRYPTION_CONTEXT_KEYS = ['app', 'name', 'serial'] as const;
/** What an admin (create, rotate, restore, revoke, delete) does on the table, all per partition key. */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:Query',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:BatchWriteItem',
] as const;
/** What a reader (fetch) does on the table. */
export const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'] as const;
/** Attributes a name listing reads: Scan cannot be limited by partition key, so it is limited to these. */
export const LIST_ATTRIBUTES = ['Application', 'SecretName'] as const;

export type SecretsAccess = 'write' | 'read';

export interface SecretsResources {
  /** KMS key ARN when the keyring is `kms`. */
  readonly keyArn?: string;
  /** Table ARN when the store is `dynamodb`. */
  readonly tableArn?: string;
}

const pascal = (access: SecretsAccess) => (access === 'write' ? 'Write' : 'Read');

export function secretsStatements(resources: SecretsResources, apps: readonly string[], access: SecretsAccess): PolicyStatement[] {
  if (apps.length === 0) return [];
  const statements: PolicyStatement[] = [];
  if (resources.keyArn) {
    statements.push({
      Sid: `${pascal(access)}SecretsWithKms`,
      Effect: 'Allow',
      Action: access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
      Resource: [resources.keyArn],
      Condition: {
        StringEquals: { 'kms:EncryptionContext:app': apps.length === 1 ? (apps[0] as string) : apps },
        'ForAllValues:StringEquals': { 'kms:EncryptionContextKeys': ENCRYPTION_CONTEXT_KEYS },
      },
    });
  }
  if (resources.tableArn) {
    statements.push({
      Sid: `${pascal(access)}SecretsTable`,
      Effect: 'Allow',
      Action: access === 'write' ? TABLE_WRITE_ACTIONS : TABLE_READ_ACTIONS,
      Resource: [resources.tableArn],
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': apps.map((app) => `${app}/*`) } },
    });
    if (access === 'write') {
      statements.push({
        Sid: 'ListSecretNames',
        Effect: 'Allow',
        Action: ['dynamodb:Scan'],
        Resource: [resources.tableArn],
        // ForAllValues passes when the key is absent, so Null: false demands a projection.
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': LIST_ATTRIBUTES },
          Null: { 'dynamodb:Attributes': 'false' },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      });
    }
  }
  return statements;
}

/** What sidekey does on an ecs-secrets table: the same calls as on its own, listing by a Scan of `Name`. */
export const ECS_TABLE_WRITE_ACTIONS = [...TABLE_WRITE_ACTIONS, 'dynamodb:Scan'] as const;

/**
 * Statements for ecs-secrets' own tables and keys (`store.type: ecs-secrets`): each application's
 * table, and KMS only through each application's alias (`kms:RequestAlias`: sidekey names it in
 * every call, and ecs-secrets' data keys carry no context to scope by).
 */
export function ecsSecretsStatements(
  where: { readonly partition: string; readonly region: string; readonly account: string },
  apps: readonly string[],
  access: SecretsAccess,
): PolicyStatement[] {
  if (apps.length === 0) return [];
  const { partition, region, account } = where;
  return [
    {
      Sid: `${pascal(access)}EcsSecretsWithKms`,
      Effect: 'Allow',
      Action: access === 'write' ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
      Resource: [`arn:${partition}:kms:${region}:${account}:key/*`],
      Condition: { StringEquals: { 'kms:RequestAlias': apps.map((app) => `${ECS_SECRETS_KEY_ALIAS_PREFIX}${app}`) } },
    },
    {
      Sid: `${pascal(access)}EcsSecretsTables`,
      Effect: 'Allow',
      Action: access === 'write' ? ECS_TABLE_WRITE_ACTIONS : TABLE_READ_ACTIONS,
      Resource: apps.map((app) => `arn:${partition}:dynamodb:${region}:${account}:table/${ecsSecretsTable(app)}`),
    },
  ];
}

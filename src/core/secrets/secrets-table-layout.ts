/**
 * The DynamoDB table's key layout, as ecs-secrets defined it: HASH `Name` (S), RANGE `Serial` (N).
 * One definition for the store's `setup` and the CloudFormation template, so they cannot drift.
 */
export const SECRETS_TABLE_ATTRIBUTES = [
  { AttributeName: 'Name', AttributeType: 'S' },
  { AttributeName: 'Serial', AttributeType: 'N' },
] as const;

export const SECRETS_TABLE_KEY_SCHEMA = [
  { AttributeName: 'Name', KeyType: 'HASH' },
  { AttributeName: 'Serial', KeyType: 'RANGE' },
] as const;

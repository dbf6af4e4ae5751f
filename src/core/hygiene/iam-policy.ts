/**
 * IAM policy document types and the ARN helpers the policy and template builders share. Values
 * that cannot be known from a config (an account id behind a KMS alias, an RDS DbiResourceId) are
 * written as `<PLACEHOLDER>`s, which IAM rejects, so a document is never applied half-filled.
 */

export type ConditionBlock = Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;

export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: 'Allow';
  readonly Action: readonly string[];
  readonly Resource: readonly string[];
  readonly Condition?: ConditionBlock;
}

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: readonly PolicyStatement[];
}

export interface GeneratedPolicy {
  /** Stable name, e.g. `sidekey-daemon`, `sidekey-secrets-admin-cryptex`. */
  readonly name: string;
  /** Which principal gets it. */
  readonly attachTo: string;
  readonly description: string;
  readonly document: PolicyDocument;
}

export interface PolicySet {
  readonly policies: readonly GeneratedPolicy[];
  /** What to replace or know before applying: placeholders, and what the documents assume. */
  readonly notes: readonly string[];
}

export const PLACEHOLDER_ACCOUNT = '<ACCOUNT_ID>';
export const PLACEHOLDER_REGION = '<REGION>';
/** Matches any placeholder left in a document. */
export const PLACEHOLDER = /<[A-Za-z_][^<>]*>/;

export const placeholderDbiResourceId = (target: string) => `<DBI_RESOURCE_ID_OF_${target.toUpperCase().replace(/-/g, '_')}>`;
export const placeholderKeyId = (alias: string) =>
  `<KEY_ID_OF_${alias
    .replace(/^alias\//, '')
    .toUpperCase()
    .replace(/[-/]/g, '_')}>`;

/** The ARN partition for a region: aws, aws-cn or aws-us-gov. */
export function partitionOf(region: string | undefined): string {
  if (region?.startsWith('cn-')) return 'aws-cn';
  if (region?.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** `us-east-1` from an RDS endpoint such as `orders.abc123.us-east-1.rds.amazonaws.com`. */
export function regionFromRdsHost(host: string): string | undefined {
  return /\.([a-z]{2}(?:-gov)?-[a-z]+-\d{1,2})\.rds\.amazonaws\.com(?:\.cn)?$/.exec(host.toLowerCase())?.[1];
}

export const sortedUnique = (values: Iterable<string>): string[] => [...new Set(values)].sort();

export interface KmsKeyResource {
  readonly arn: string;
  /** Set when the ARN holds placeholders. */
  readonly note?: string;
}

/** The key ARN IAM wants for a configured `key_id` (ARN, key id, alias ARN or `alias/NAME`). */
export function kmsKeyArn(keyId: string, region: string | undefined, accountId: string | undefined): KmsKeyResource {
  const arnMatch = /^arn:([\w-]+):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/.exec(keyId);
  if (arnMatch) {
    const [, partition, keyRegion, account, kind, rest] = arnMatch as unknown as [string, string, string, string, string, string];
    if (kind === 'key') return { arn: keyId };
    const placeholder = placeholderKeyId(`alias/${rest}`);
    return {
      arn: `arn:${partition}:kms:${keyRegion}:${account}:key/${placeholder}`,
      note: `${placeholder}: IAM authorizes keys, not aliases; find the key id with aws kms describe-key --key-id ${keyId}`,
    };
  }
  const r = region ?? PLACEHOLDER_REGION;
  const account = accountId ?? PLACEHOLDER_ACCOUNT;
  if (keyId.startsWith('alias/')) {
    const placeholder = placeholderKeyId(keyId);
    return {
      arn: `arn:${partitionOf(region)}:kms:${r}:${account}:key/${placeholder}`,
      note: `${placeholder}: IAM authorizes keys, not aliases; find the key id with aws kms describe-key --key-id ${keyId}`,
    };
  }
  return { arn: `arn:${partitionOf(region)}:kms:${r}:${account}:key/${keyId}` };
}

export function document(statements: readonly PolicyStatement[]): PolicyDocument {
  return { Version: '2012-10-17', Statement: statements };
}

/**
 * What `sidekey setup --template` builds from: names and principals from flags, else from the
 * config, else defaults. Every name is validated by the name rules (validators.ts `nameProblem`),
 * and the error says which flag or key broke which rule.
 */

import { DEFAULT_APPLICATION } from '../config/sections/secrets-section.js';
import type { SidekeyConfig } from '../config/sidekey-config.js';
import { nameProblem } from '../config/validators.js';
import { SidekeyError } from '../errors.js';

/** An IAM role or user ARN, in any partition. */
export const PRINCIPAL_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
/** The most tags a KMS key or DynamoDB table takes. */
export const MAX_TAGS = 50;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

export interface TemplateFlags {
  readonly application?: string;
  readonly tableName?: string;
  readonly aliasName?: string;
  readonly stackName?: string;
  readonly adminPrincipals?: readonly string[];
  readonly fetchPrincipals?: readonly string[];
  readonly environment?: string;
  readonly owner?: string;
  /** Extra tags as KEY=VALUE. */
  readonly tags?: readonly string[];
}

export interface TemplateInput {
  readonly application: string;
  readonly tableName: string;
  /** Without the `alias/` prefix. */
  readonly aliasName: string;
  readonly stackName: string;
  readonly adminPrincipals: readonly string[];
  readonly fetchPrincipals: readonly string[];
  readonly tags: readonly { readonly Key: string; readonly Value: string }[];
}

function checkName(value: string, where: string): string {
  const problem = nameProblem(value);
  if (problem) throw new SidekeyError('NAME_INVALID', `${where} ${JSON.stringify(value)} ${problem}`, { details: { where } });
  return value;
}

function checkPrincipals(values: readonly string[], where: string): string[] {
  for (const value of values) {
    if (!PRINCIPAL_ARN.test(value)) {
      throw new SidekeyError(
        'USAGE',
        `${where} ${JSON.stringify(value)} is not an IAM role or user ARN (arn:aws:iam::123456789012:role/Name)`,
      );
    }
  }
  return [...new Set(values)];
}

function parseTag(text: string): { Key: string; Value: string } {
  const eq = text.indexOf('=');
  const key = eq < 0 ? text : text.slice(0, eq);
  const value = eq < 0 ? '' : text.slice(eq + 1);
  if (
    eq < 0 ||
    key.length === 0 ||
    key.length > 128 ||
    value.length > 256 ||
    !TAG_TEXT.test(key) ||
    !TAG_TEXT.test(value) ||
    key.startsWith('aws:')
  ) {
    throw new SidekeyError(
      'USAGE',
      `--tag ${JSON.stringify(text)}: expected KEY=VALUE (key 1 to 128, value up to 256 characters; letters, digits, spaces and _.:/=+-@; no aws: prefix)`,
    );
  }
  return { Key: key, Value: value };
}

export function templateInput(config: SidekeyConfig | undefined, flags: TemplateFlags): TemplateInput {
  const secrets = config?.secrets;
  const application = checkName(
    flags.application ?? secrets?.application ?? DEFAULT_APPLICATION,
    flags.application ? '--application' : 'secrets.application',
  );
  const configTable = secrets?.store.type === 'dynamodb' ? secrets.store.table : undefined;
  const tableName = checkName(
    flags.tableName ?? configTable ?? `sidekey-${application}-secrets`,
    flags.tableName ? '--table-name' : configTable ? 'secrets.store.table' : 'the default table name',
  );
  const configAlias =
    secrets?.keyring.type === 'kms' && secrets.keyring.key_id.startsWith('alias/')
      ? secrets.keyring.key_id.slice('alias/'.length)
      : undefined;
  const aliasName = checkName(
    (flags.aliasName ?? configAlias ?? `sidekey-${application}`).replace(/^alias\//, ''),
    flags.aliasName ? '--alias-name' : configAlias ? 'secrets.keyring.key_id' : 'the default alias name',
  );
  const stackName = checkName(
    flags.stackName ?? `sidekey-${application}-secrets`,
    flags.stackName ? '--stack-name' : 'the default stack name',
  );
  const tags = [
    { Key: 'Application', Value: application },
    { Key: 'ManagedBy', Value: 'sidekey' },
  ];
  if (flags.environment !== undefined) tags.push({ Key: 'Environment', Value: checkName(flags.environment, '--environment') });
  if (flags.owner !== undefined) tags.push({ Key: 'Owner', Value: checkName(flags.owner, '--owner') });
  for (const text of flags.tags ?? []) {
    const tag = parseTag(text);
    const at = tags.findIndex((t) => t.Key === tag.Key);
    if (at >= 0) tags[at] = tag;
    else tags.push(tag);
  }
  if (tags.length > MAX_TAGS) throw new SidekeyError('USAGE', `at most ${MAX_TAGS} tags (got ${tags.length})`);
  return {
    application,
    tableName,
    aliasName,
    stackName,
    adminPrincipals: checkPrincipals(flags.adminPrincipals ?? [], '--admin-principal'),
    fetchPrincipals: checkPrincipals(flags.fetchPrincipals ?? [], '--fetch-principal'),
    tags,
  };
}

/**
 * `sidekey policy`'s core: the least-privilege IAM policy documents a config needs, for the
 * daemon's base credentials, for services with their own source credentials or database targets,
 * and for the secrets admin and fetch roles. Every resource is named; where the config cannot
 * know a value, a placeholder stands in and `notes` says how to find it.
 */
import type { SidekeyConfig } from '../config/sidekey-config.js';
import { ecsSecretsTable } from '../secrets/ecs-secrets-table.js';
import {
  document,
  type GeneratedPolicy,
  kmsKeyArn,
  PLACEHOLDER_ACCOUNT,
  PLACEHOLDER_REGION,
  type PolicySet,
  type PolicyStatement,
  partitionOf,
  placeholderDbiResourceId,
  regionFromRdsHost,
  sortedUnique,
} from './iam-policy.js';
import { ecsSecretsStatements, type SecretsResources, secretsStatements } from './secrets-policy-statements.js';

export interface PolicyOptions {
  /** Fills the account id where the config cannot say it. */
  readonly accountId?: string;
  /** Application for the secrets admin and fetch documents (default: secrets.application). */
  readonly application?: string;
}

interface RoleUse {
  readonly arn: string;
  readonly tags: boolean;
  readonly sourceIdentity: boolean;
}

function assumeStatements(roles: readonly RoleUse[]): PolicyStatement[] {
  if (roles.length === 0) return [];
  const statements: PolicyStatement[] = [
    { Sid: 'AssumeServiceRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: sortedUnique(roles.map((r) => r.arn)) },
  ];
  const tagged = roles.filter((r) => r.tags).map((r) => r.arn);
  if (tagged.length > 0)
    statements.push({ Sid: 'TagServiceSessions', Effect: 'Allow', Action: ['sts:TagSession'], Resource: sortedUnique(tagged) });
  const identified = roles.filter((r) => r.sourceIdentity).map((r) => r.arn);
  if (identified.length > 0) {
    statements.push({
      Sid: 'SetServiceSourceIdentity',
      Effect: 'Allow',
      Action: ['sts:SetSourceIdentity'],
      Resource: sortedUnique(identified),
    });
  }
  return statements;
}

export function buildPolicies(config: SidekeyConfig, options: PolicyOptions = {}): PolicySet {
  const notes: string[] = [];
  const account = options.accountId ?? PLACEHOLDER_ACCOUNT;
  const defaultRegion = config.aws_defaults?.region;
  const policies: GeneratedPolicy[] = [];

  // Roles: the base credentials assume those of services without source credentials of their own.
  const roleUse = (name: string): RoleUse => {
    const role = (config.services[name] as SidekeyConfig['services'][string]).assumed_role;
    return { arn: role.RoleArn, tags: (role.Tags?.length ?? 0) > 0, sourceIdentity: role.SourceIdentity !== undefined };
  };
  const names = Object.keys(config.services).sort();
  const baseStatements: PolicyStatement[] = assumeStatements(names.filter((n) => !config.services[n]?.source_credentials).map(roleUse));
  for (const name of names.filter((n) => config.services[n]?.source_credentials)) {
    policies.push({
      name: `sidekey-service-${name}-source`,
      attachTo: `the principal behind services.${name}.source_credentials`,
      description: `lets service ${name}'s own source credentials assume its role, and nothing else`,
      document: document(assumeStatements([roleUse(name)])),
    });
  }

  // Database users: IAM tokens are signed by the base credentials, or by a service's role.
  const rdsBySigner = new Map<string, string[]>();
  for (const [targetName, target] of Object.entries(config.postgres?.targets ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (target.auth !== 'iam') continue;
    const region = target.region ?? regionFromRdsHost(target.host) ?? defaultRegion;
    if (region === undefined) notes.push(`${PLACEHOLDER_REGION} in postgres.targets.${targetName}: set its region`);
    const dbi = placeholderDbiResourceId(targetName);
    notes.push(
      `${dbi}: the DbiResourceId (db-...) of ${target.host}: aws rds describe-db-instances --query "DBInstances[].DbiResourceId" (or describe-db-clusters for Aurora)`,
    );
    const users = sortedUnique([target.user, ...Object.values(target.users ?? {})]);
    const arns = users.map((user) => `arn:${partitionOf(region)}:rds-db:${region ?? PLACEHOLDER_REGION}:${account}:dbuser:${dbi}/${user}`);
    const signer = target.service ?? '';
    rdsBySigner.set(signer, [...(rdsBySigner.get(signer) ?? []), ...arns]);
  }
  const rdsStatement = (arns: readonly string[]): PolicyStatement => ({
    Sid: 'ConnectAsDatabaseUsers',
    Effect: 'Allow',
    Action: ['rds-db:connect'],
    Resource: sortedUnique(arns),
  });
  const baseRds = rdsBySigner.get('');
  if (baseRds) baseStatements.push(rdsStatement(baseRds));
  for (const [service, arns] of [...rdsBySigner].filter(([s]) => s !== '')) {
    const roleArn = config.services[service]?.assumed_role.RoleArn ?? `the role of service ${service}`;
    policies.push({
      name: `sidekey-service-${service}-rds`,
      attachTo: roleArn,
      description: `lets service ${service}'s role log in to its database targets with IAM tokens`,
      document: document([rdsStatement(arns)]),
    });
  }

  // Secrets store on AWS: KMS keyring and/or DynamoDB store.
  const secrets = config.secrets;
  let keyArn: string | undefined;
  let tableArn: string | undefined;
  if (secrets?.keyring.type === 'kms') {
    const key = kmsKeyArn(secrets.keyring.key_id, secrets.keyring.region ?? defaultRegion, options.accountId);
    keyArn = key.arn;
    if (key.note) notes.push(key.note);
  }
  if (secrets?.store.type === 'dynamodb') {
    const region = secrets.store.region ?? defaultRegion;
    tableArn = `arn:${partitionOf(region)}:dynamodb:${region ?? PLACEHOLDER_REGION}:${account}:table/${secrets.store.table}`;
  }
  const resources: SecretsResources = { ...(keyArn ? { keyArn } : {}), ...(tableArn ? { tableArn } : {}) };
  /** The daemon's statements for every application its tokens act in, and the admin and fetch policies for one. */
  const addSecretsPolicies = (
    statementsFor: (apps: readonly string[], access: 'write' | 'read') => PolicyStatement[],
    wording: { readonly adminRole: string; readonly adminDoes: string; readonly fetchFrom: string },
  ) => {
    if (!secrets) return;
    const writeApps = sortedUnique(secrets.tokens.filter((t) => t.role === 'admin').map((t) => t.application));
    const readApps = sortedUnique(secrets.tokens.map((t) => t.application)).filter((app) => !writeApps.includes(app));
    baseStatements.push(...statementsFor(writeApps, 'write'), ...statementsFor(readApps, 'read'));
    const app = options.application ?? secrets.application;
    policies.push(
      {
        name: `sidekey-secrets-admin-${app}`,
        attachTo: wording.adminRole,
        description: `${wording.adminDoes} of application ${app}`,
        document: document(statementsFor([app], 'write')),
      },
      {
        name: `sidekey-secrets-fetch-${app}`,
        attachTo: 'the role of the application that reads its secrets (the fetch role)',
        description: `fetch secrets of application ${app}${wording.fetchFrom}; no writes, no data keys`,
        document: document(statementsFor([app], 'read')),
      },
    );
  };
  if (secrets?.store.type === 'ecs-secrets') {
    const region = secrets.store.region ?? defaultRegion;
    const where = { partition: partitionOf(region), region: region ?? PLACEHOLDER_REGION, account };
    const table = ecsSecretsTable(options.application ?? secrets.application);
    addSecretsPolicies((apps, access) => ecsSecretsStatements(where, apps, access), {
      adminRole: 'the role that creates and revokes secrets in the ecs-secrets table',
      adminDoes: `create, revoke and list secrets in ${table}`,
      fetchFrom: ` from ${table}`,
    });
  } else if (secrets && (resources.keyArn || resources.tableArn)) {
    addSecretsPolicies((apps, access) => secretsStatements(resources, apps, access), {
      adminRole: 'the role that creates, rotates and revokes secrets (the secrets admin)',
      adminDoes: 'create, rotate, restore, revoke, delete and list secrets',
      fetchFrom: '',
    });
    if (resources.tableArn)
      notes.push(
        'listing names (Scan) cannot be limited by application: an admin can list secret names, never values, of every application in the table',
      );
    if (resources.keyArn)
      notes.push(
        'sidekey secrets rewrap also needs kms:Encrypt on the key and a Scan of EncryptedDataKey; grant it only for the rewrap run',
      );
  }
  // The agent API reads as the daemon, or as a token's service; each token's names and parameters at most.
  if (config.agent) {
    const region = config.agent.region ?? defaultRegion;
    if (region === undefined) notes.push(`${PLACEHOLDER_REGION} in the agent's ARNs: set agent.region or aws_defaults.region`);
    const arnBase = (service: string) => `arn:${partitionOf(region)}:${service}:${region ?? PLACEHOLDER_REGION}:${account}`;
    const secretPrefix = `${arnBase('secretsmanager')}:secret:`;
    // An exact name matches its ARN's six random characters, as IAM documents for Secrets Manager.
    const secretArn = (pattern: string) =>
      pattern.startsWith('arn:') ? pattern : pattern.endsWith('*') ? `${secretPrefix}${pattern}` : `${secretPrefix}${pattern}-??????`;
    // A hierarchical name's leading slash is not repeated in its ARN (parameter/prod/db).
    const parameterArn = (pattern: string) =>
      pattern.startsWith('arn:') ? pattern : `${arnBase('ssm')}:parameter/${pattern.replace(/^\//, '')}`;
    const bySigner = new Map<string, typeof config.agent.tokens>();
    for (const t of config.agent.tokens) bySigner.set(t.service ?? '', [...(bySigner.get(t.service ?? '') ?? []), t]);
    for (const [service, tokens] of [...bySigner].sort(([a], [b]) => a.localeCompare(b))) {
      const statements: PolicyStatement[] = [];
      const secretArns = sortedUnique(tokens.flatMap((t) => t.names.map(secretArn)));
      if (secretArns.length > 0)
        statements.push({ Sid: 'ReadAgentSecrets', Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: secretArns });
      const parameters = sortedUnique(tokens.flatMap((t) => t.parameters.map(parameterArn)));
      if (parameters.length > 0)
        statements.push({ Sid: 'ReadAgentParameters', Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: parameters });
      // A prefix can also be read whole (the by-path route). IAM checks GetParametersByPath on the
      // path's own ARN, so /prod/web/* also names parameter/prod/web.
      const paths = sortedUnique(
        tokens.flatMap((t) =>
          t.parameters
            .filter((p) => p.endsWith('*') && !p.startsWith('arn:'))
            .flatMap((p) => [parameterArn(p), ...(p.endsWith('/*') && p.length > 2 ? [parameterArn(p.slice(0, -2))] : [])]),
        ),
      );
      if (paths.length > 0)
        statements.push({ Sid: 'ReadAgentParameterPaths', Effect: 'Allow', Action: ['ssm:GetParametersByPath'], Resource: paths });
      if (service === '') baseStatements.push(...statements);
      else
        policies.push({
          name: `sidekey-service-${service}-agent`,
          attachTo: config.services[service]?.assumed_role.RoleArn ?? `the role of service ${service}`,
          description: `lets service ${service}'s role read what the agent API serves its tokens`,
          document: document(statements),
        });
    }
    if (config.agent.tokens.some((t) => t.names.length > 0))
      notes.push(
        'a secret encrypted with a customer managed KMS key also needs kms:Decrypt on that key, best with the condition kms:ViaService = secretsmanager.REGION.amazonaws.com',
      );
    if (config.agent.tokens.some((t) => t.parameters.length > 0))
      notes.push(
        'a SecureString parameter under a customer managed KMS key also needs kms:Decrypt on that key, best with the conditions kms:ViaService = ssm.REGION.amazonaws.com and kms:EncryptionContext:PARAMETER_ARN = the parameter ARN',
      );
  }
  policies.unshift({
    name: 'sidekey-daemon',
    attachTo: "the daemon's base credentials (its instance profile, task role or user)",
    description: 'assume the service roles, sign database tokens and use the secrets store; nothing else',
    document: document(baseStatements),
  });
  if (baseStatements.some((s) => s.Action.includes('sts:AssumeRole'))) {
    notes.push(
      "each service role's trust policy must allow the daemon's principal to call sts:AssumeRole (and sts:TagSession / sts:SetSourceIdentity where listed)",
    );
  }
  const kept = policies.filter((p) => p.document.Statement.length > 0);
  if (JSON.stringify(kept).includes(PLACEHOLDER_ACCOUNT))
    notes.push(`${PLACEHOLDER_ACCOUNT}: pass --account-id (aws sts get-caller-identity --query Account)`);
  return { policies: kept, notes: sortedUnique(notes) };
}

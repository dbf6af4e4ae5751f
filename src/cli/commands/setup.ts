/**
 * `sidekey setup --template`: prints the CloudFormation template for the secrets backend;
 * `--deploy` creates or updates the stack and follows it until it settles.
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { type Command, Option } from 'commander';
import { loadConfig } from '../../core/config/load-config.js';
import type { SidekeyConfig } from '../../core/config/sidekey-config.js';
import { SidekeyError } from '../../core/errors.js';
import { deployStack } from '../../core/hygiene/deploy-stack.js';
import { buildSecretsTemplate, renderTemplate } from '../../core/hygiene/secrets-template.js';
import { templateInput } from '../../core/hygiene/template-input.js';

interface SetupFlags {
  template?: boolean;
  deploy?: boolean;
  config?: string;
  format: 'yaml' | 'json';
  region?: string;
  application?: string;
  tableName?: string;
  aliasName?: string;
  stackName?: string;
  adminPrincipal: string[];
  fetchPrincipal: string[];
  environment?: string;
  owner?: string;
  tag: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerSetup(program: Command): void {
  program
    .command('setup')
    .description('print (--template) or deploy (--deploy) the CloudFormation stack for the secrets backend: KMS key, alias, DynamoDB table')
    .option('--template', 'print the template')
    .option('--deploy', 'create or update the stack with the standard AWS credentials, and wait for it')
    .option('-c, --config <file>', 'take the application, table and alias names from this config')
    .addOption(new Option('--format <format>', 'template format').choices(['yaml', 'json']).default('yaml'))
    .option('--region <region>', 'region to deploy in (default: aws_defaults.region, then the SDK default)')
    .option('--application <name>', 'application name (default: secrets.application)')
    .option('--table-name <name>', 'DynamoDB table (default: secrets.store.table, else sidekey-APP-secrets)')
    .option('--alias-name <name>', 'KMS alias without alias/ (default: from secrets.keyring.key_id, else sidekey-APP)')
    .option('--stack-name <name>', 'stack name (default: sidekey-APP-secrets)')
    .option('--admin-principal <arn>', 'role or user that creates, rotates and revokes secrets (repeatable)', collect, [])
    .option('--fetch-principal <arn>', 'role that fetches secrets (repeatable)', collect, [])
    .option('--environment <name>', 'Environment tag')
    .option('--owner <name>', 'Owner tag')
    .option('--tag <key=value>', 'extra tag (repeatable)', collect, [])
    .action(async (flags: SetupFlags) => {
      if (!flags.template && !flags.deploy)
        throw new SidekeyError('USAGE', 'say --template (print) or --deploy (create or update the stack)');
      const config: SidekeyConfig | undefined = flags.config ? loadConfig(flags.config).config : undefined;
      const input = templateInput(config, {
        ...(flags.application ? { application: flags.application } : {}),
        ...(flags.tableName ? { tableName: flags.tableName } : {}),
        ...(flags.aliasName ? { aliasName: flags.aliasName } : {}),
        ...(flags.stackName ? { stackName: flags.stackName } : {}),
        ...(flags.environment !== undefined ? { environment: flags.environment } : {}),
        ...(flags.owner !== undefined ? { owner: flags.owner } : {}),
        adminPrincipals: flags.adminPrincipal,
        fetchPrincipals: flags.fetchPrincipal,
        tags: flags.tag,
      });
      const body = renderTemplate(buildSecretsTemplate(input), flags.format);
      if (flags.template) process.stdout.write(body);
      if (!flags.deploy) return;
      if (input.adminPrincipals.length === 0 || input.fetchPrincipals.length === 0) {
        throw new SidekeyError(
          'USAGE',
          '--deploy needs at least one --admin-principal and one --fetch-principal: the key policy names who may use the key',
        );
      }
      const endpoint = process.env.AWS_ENDPOINT_URL_CLOUDFORMATION ?? process.env.AWS_ENDPOINT_URL;
      const region = flags.region ?? config?.aws_defaults?.region;
      const client = new CloudFormationClient({ ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}) });
      try {
        const result = await deployStack({
          client,
          stackName: input.stackName,
          templateBody: body,
          parameters: { AdminPrincipalArns: input.adminPrincipals.join(','), FetchPrincipalArns: input.fetchPrincipals.join(',') },
          tags: input.tags,
          progress: (line) => process.stderr.write(`sidekey setup: ${line}\n`),
        });
        process.stderr.write(`sidekey setup: stack ${input.stackName} ${result.action} (${result.status})\n`);
        for (const [key, value] of Object.entries(result.outputs)) process.stderr.write(`  ${key}: ${value}\n`);
      } finally {
        client.destroy();
      }
    });
}

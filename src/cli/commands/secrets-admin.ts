/** `sidekey secrets setup` and `sidekey secrets rewrap`: operator commands on the store itself. */
import type { Command } from 'commander';
import { baseCredentialProvider } from '../../core/aws/base-credentials.js';
import { SidekeyError } from '../../core/errors.js';
import { applicationsOf, createCodec, createKeyring, createSecretService, createStore } from '../../core/secrets/create-secret-service.js';
import { DynamoDbStore } from '../../core/secrets/dynamodb-store.js';
import { ECS_SECRETS_KEY_ALIAS_PREFIX, EcsSecretsCodec } from '../../core/secrets/ecs-secrets-codec.js';
import { ecsSecretsTable } from '../../core/secrets/ecs-secrets-table.js';
import { importVersions } from '../../core/secrets/import-versions.js';
import { addMasterKey } from '../../core/secrets/master-key-file.js';
import { checkName } from '../../core/secrets/secret-errors.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { ExitCode } from '../exit-codes.js';
import { iamPolicies } from '../secrets/iam-policy.js';
import { cliActor, loadSecretsConfig } from '../secrets/open-client.js';
import { printJson, stderr } from '../secrets/target-options.js';

export function registerSecretsAdmin(secrets: Command): void {
  secrets
    .command('setup')
    .description('create what the store needs (SQLite schema, DynamoDB table, local key file) and print IAM policies')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .option('--application-name <name>', 'application the printed policies are for (default: secrets.application)')
    .action(async (flags: { config: string; applicationName?: string }) => {
      const { secrets: config, awsDefaults } = loadSecretsConfig(flags.config);
      const app = checkName(flags.applicationName ?? config.application, 'application name');
      const store = createStore(config, awsDefaults);
      const codec = createCodec(config, createKeyring(config, awsDefaults), awsDefaults);
      try {
        await store.setup();
        await codec.setup();
      } finally {
        await store.close();
      }
      stderr(`sidekey secrets setup: ${config.store.type} store ready; keyring: ${codec.describe()}\n`);
      if (config.store.type === 'ecs-secrets') {
        stderr(
          `sidekey secrets setup: ecs-secrets' tables (${applicationsOf(config).map(ecsSecretsTable).join(', ')}) need the KMS aliases ${applicationsOf(
            config,
          )
            .map((a) => `${ECS_SECRETS_KEY_ALIAS_PREFIX}${a}`)
            .join(
              ', ',
            )}; grant readers dynamodb:GetItem and Query and kms:Decrypt, writers PutItem, Query and UpdateItem and kms:GenerateDataKey, as ecs-secrets' own setup does\n`,
        );
        return;
      }
      const policies = iamPolicies(config, app, awsDefaults?.region);
      if (!policies) {
        stderr(
          'sidekey secrets setup: no IAM needed (SQLite and a local key): keep the data directory 0700 and owned by the daemon user\n',
        );
        return;
      }
      stderr(
        `sidekey secrets setup: attach "admin" to the role that writes secrets and "fetch" to the application role (application ${app}):\n`,
      );
      process.stdout.write(`${JSON.stringify(policies, null, 2)}\n`);
    });

  secrets
    .command('import')
    .description(
      "copy an application's versions from its ecs-secrets table into this config's store, re-sealed in sidekey's format; repeatable, nothing is deleted",
    )
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .option('--application-name <name>', 'application to import (default: secrets.application)')
    .option('--from-region <region>', "region of the ecs-secrets table and KMS key (default: aws_defaults.region, else the SDK's)")
    .option('--dry-run', 'read and decrypt everything, report what would be copied, write nothing')
    .action(async (flags: { config: string; applicationName?: string; fromRegion?: string; dryRun?: boolean }) => {
      const { secrets: config, awsDefaults } = loadSecretsConfig(flags.config);
      const app = checkName(flags.applicationName ?? config.application, 'application name');
      if (config.store.type === 'ecs-secrets')
        throw new SidekeyError(
          'USAGE',
          "secrets.store is ecs-secrets' own table already: import into a sidekey store (type sqlite or dynamodb)",
        );
      const region = flags.fromRegion ?? awsDefaults?.region;
      const credentials = baseCredentialProvider(awsDefaults);
      const source = {
        store: new DynamoDbStore({ layout: 'ecs-secrets', applications: [app], credentials, ...(region ? { region } : {}) }),
        codec: new EcsSecretsCodec({ credentials, ...(region ? { region } : {}) }),
      };
      const target = {
        store: createStore(config, awsDefaults),
        codec: createCodec(config, createKeyring(config, awsDefaults), awsDefaults),
      };
      try {
        await source.store.open(app);
        await target.store.open(app);
        if (!flags.dryRun) await target.codec.setup();
        const report = await importVersions(source, target, app, { dryRun: flags.dryRun === true, actor: cliActor() });
        printJson(report);
        stderr(
          `sidekey secrets import: ${report.imported.length} ${flags.dryRun ? 'to import' : 'imported'}, ${report.revoked.length} revoked, ${report.skipped.length} already there, ${report.failed.length} failed (from ${ecsSecretsTable(app)})\n`,
        );
        if (report.failed.length > 0) process.exitCode = ExitCode.FAILURE;
      } finally {
        await source.store.close();
        source.codec.close();
        await target.store.close();
      }
    });

  secrets
    .command('rewrap')
    .description('re-wrap every data key under the newest master key (payloads untouched); --add-key adds one first')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .option('--add-key', 'append a new local master key to the key file first, then rewrap under it')
    .action(async (flags: { config: string; addKey?: boolean }) => {
      const { secrets: config, awsDefaults } = loadSecretsConfig(flags.config);
      if (flags.addKey) {
        if (config.keyring.type !== 'local' || config.keyring.keys !== undefined) {
          throw new SidekeyError(
            'USAGE',
            '--add-key works with a local keyring read from key_file; rotate a KMS key in KMS, then run rewrap',
          );
        }
        const id = addMasterKey(config.keyring.key_file as string);
        stderr(`sidekey secrets rewrap: added master key ${id}\n`);
      }
      const service = createSecretService({ secrets: config, awsDefaults, cacheTtlSeconds: 0 });
      try {
        const report = await service.rewrap(cliActor());
        printJson(report);
        if (report.failed.length > 0) {
          stderr(`sidekey secrets rewrap: ${report.failed.length} version(s) failed their integrity check and were left as they were\n`);
          process.exitCode = ExitCode.FAILURE;
        }
      } finally {
        await service.close();
      }
    });
}

#!/usr/bin/env node
/**
 * The `ecs-secrets` command: ecs-secrets' own commands, aliases, flags, environment-only
 * configuration and output lines, run by sidekey on ecs-secrets' own tables and format
 * (`store.type: ecs-secrets`), so scripts and task definitions written for that tool keep working:
 * `setup`, `create` (`store`), `fetch` (`get`), `revoke`, `daemon`, each with `--application-name` and
 * `--debug`. `daemon` serves ecs-secrets' REST answers (`secrets.ecs_secrets_api`) on
 * 127.0.0.1:8080; ecs-secrets listened on every interface without authentication, which sidekey
 * does only with a token (docs/secrets.md). `setup` creates or adopts its CloudFormation stack and alias.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, type LoadedConfig, parseConfig } from '../core/config/load-config.js';
import { refuseLooseMode } from '../core/config/private-file-mode.js';
import { randomToken } from '../core/crypto/random-token.js';
import { isSidekeyError, SidekeyError } from '../core/errors.js';
import { ecsSecretsPolicyStatement, setupEcsSecrets } from '../core/hygiene/ecs-secrets-stack.js';
import { createLogger, serializeError } from '../core/log/logger.js';
import { createSecretService } from '../core/secrets/create-secret-service.js';
import { atoi, fetchEcsSecretsRecord, goJson } from '../core/secrets/ecs-secrets-record.js';
import type { SecretService } from '../core/secrets/secret-service.js';
import { Daemon } from '../daemon/daemon.js';
import { ExitCode } from './exit-codes.js';
import { cliActor } from './secrets/open-client.js';

/**
 * Where `daemon` listens: loopback, since ecs-secrets' clients send no token; with a token file
 * (clients then send `Authorization: Bearer TOKEN`), on every interface as ecs-secrets did.
 */
const DAEMON_LISTEN = '127.0.0.1:8080';
const DAEMON_LISTEN_WITH_TOKEN = '0.0.0.0:8080';
const TOKEN_ID = 'ecs-secrets';

/**
 * A config made from the environment alone, as ecs-secrets is configured, plus sidekey's own:
 * SIDEKEY_ECS_SECRETS_LISTEN, SIDEKEY_ECS_SECRETS_TOKEN_FILE and SIDEKEY_ECS_SECRETS_ALLOWED_HOSTS
 * (comma-separated Host names, such as a docker link's `ecs-secrets:8080`).
 */
function environmentConfig(app: string, debug: boolean): LoadedConfig {
  const env = process.env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const tokenFile = env.SIDEKEY_ECS_SECRETS_TOKEN_FILE;
  // The file is read by the config's own ${fromFile:} (its size limit, newline trim and errors).
  if (tokenFile !== undefined && /[$}]/.test(tokenFile))
    throw new SidekeyError('USAGE', 'SIDEKEY_ECS_SECRETS_TOKEN_FILE: a path with "$" or "}" is not supported; move the file');
  // Like the master key file: a token others can read is not a secret (a missing file is reported by ${fromFile:}).
  const mode = tokenFile === undefined ? undefined : statSync(tokenFile, { throwIfNoEntry: false })?.mode;
  if (mode !== undefined && tokenFile !== undefined) refuseLooseMode('SIDEKEY_ECS_SECRETS_TOKEN_FILE', tokenFile, mode);
  const allowedHosts = (env.SIDEKEY_ECS_SECRETS_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const config = {
    admin: { listen: '127.0.0.1:0' },
    logging: { level: debug ? 'debug' : 'info' },
    secrets: {
      listen: '127.0.0.1:0',
      application: app,
      store: { type: 'ecs-secrets', ...(region ? { region } : {}) },
      tokens: [{ id: TOKEN_ID, token: tokenFile ? `\${fromFile:${tokenFile}}` : randomToken(), role: 'admin', application: app }],
      allowed_hosts: allowedHosts,
      ecs_secrets_api: {
        listen: env.SIDEKEY_ECS_SECRETS_LISTEN ?? (tokenFile ? DAEMON_LISTEN_WITH_TOKEN : DAEMON_LISTEN),
        token_id: TOKEN_ID,
        require_token: tokenFile !== undefined,
      },
    },
  };
  try {
    return parseConfig(JSON.stringify(config), join(process.cwd(), 'ecs-secrets-environment.json'));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw environmentProblems(error, env.AWS_REGION !== undefined ? 'AWS_REGION' : 'AWS_DEFAULT_REGION');
  }
}

/** The config keys environmentConfig fills, by the flag or variable they come from. */
const ENVIRONMENT_SOURCES: readonly (readonly [keyPath: string, source: string])[] = [
  ['secrets.application', '--application-name'],
  ['secrets.tokens[0].application', '--application-name'],
  ['secrets.tokens[0].token', 'SIDEKEY_ECS_SECRETS_TOKEN_FILE'],
  ['secrets.ecs_secrets_api.listen', 'SIDEKEY_ECS_SECRETS_LISTEN'],
  ['secrets.allowed_hosts', 'SIDEKEY_ECS_SECRETS_ALLOWED_HOSTS'],
];

/**
 * The problems of a config made from the environment, each named by the flag or variable it came
 * from (the config itself is no file the user could open), each said once.
 */
function environmentProblems(error: ConfigError, regionVariable: string): SidekeyError {
  const sources: readonly (readonly [string, string])[] = [...ENVIRONMENT_SOURCES, ['secrets.store.region', regionVariable]];
  const said = new Set<string>();
  for (const problem of error.problems) {
    const text = problem.replace(/^line \d+: /, '');
    const found = sources.find(([keyPath]) => text.startsWith(`${keyPath}: `) || text.startsWith(`${keyPath}[`));
    said.add(found ? `${found[1]}${text.slice(text.indexOf(': '))}` : text);
  }
  return new SidekeyError('CONFIG_INVALID', [...said].join('\n'));
}

/** seelog's line as ecs-secrets formats it: `2006-01-02T15:04:05Z [INFO] message`. */
function info(message: string): void {
  process.stdout.write(`${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')} [INFO] ${message}\n`);
}

async function withService<T>(app: string, run: (service: SecretService) => Promise<T>): Promise<T> {
  const loaded = environmentConfig(app, false);
  const service = createSecretService({ secrets: loaded.config.secrets as NonNullable<typeof loaded.config.secrets>, cacheTtlSeconds: 0 });
  try {
    return await run(service);
  } finally {
    await service.close();
  }
}

const common = (command: Command) =>
  command
    .addOption(new Option('--application-name <name>', 'Specifies the name of the application.').makeOptionMandatory())
    .option('--debug', 'Run in debug mode.');

export function buildEcsSecretsProgram(): Command {
  const program = new Command('ecs-secrets').description('Command line interface for ECS Secrets').showHelpAfterError().exitOverride();

  common(program.command('setup').description('Sets up the resources needed for ECS Secrets.'))
    .option('--create-principal <arn>', 'Specifies the IAM Principal for creating secrets.')
    .option('--fetch-role <arn>', 'Specifies the IAM Role Arn for fetcing secrets.')
    .action(async (flags: { applicationName: string; createPrincipal?: string; fetchRole?: string }) => {
      if (!flags.createPrincipal || !flags.fetchRole)
        throw new SidekeyError('USAGE', 'Incorrect usage. --create-principal and --fetch-role should be specified');
      const cloudformation = new CloudFormationClient({});
      const kms = new KMSClient({});
      try {
        const { table } = await setupEcsSecrets({
          cloudformation,
          kms,
          app: flags.applicationName,
          createPrincipal: flags.createPrincipal,
          fetchRole: flags.fetchRole,
          info,
        });
        info(`Secrets are stored in the table: ${table}`);
        info(
          `Update '${flags.fetchRole}' to provide read access for this table by updating the policy statement with: ${ecsSecretsPolicyStatement(table, 'read')}`,
        );
        info(
          `Update '${flags.createPrincipal}' to provide write access for this table by updating the policy statement with: ${ecsSecretsPolicyStatement(table, 'write')}`,
        );
        info('Setup complete');
      } finally {
        cloudformation.destroy();
        kms.destroy();
      }
    });

  common(program.command('create').alias('store').description('Creates a secret.'))
    .option('--name <name>', 'Specifies the name of the secret.')
    .option('--payload <payload>', 'Specifies the payload for the secret.')
    .option('--payload-location <file>', 'Specifies the file path containing the secrets payload.')
    .action(async (flags: { applicationName: string; name?: string; payload?: string; payloadLocation?: string }) => {
      if (!flags.name) throw new SidekeyError('USAGE', 'Incorrect usage. --name should be specified');
      if (flags.payload !== undefined && flags.payloadLocation !== undefined)
        throw new SidekeyError('USAGE', "Incorrect usage. Only one of 'payload' or 'payload-location' should be specified");
      let payload = flags.payload;
      if (payload === undefined) {
        if (flags.payloadLocation === undefined)
          throw new SidekeyError('USAGE', "Incorrect usage. One of 'payload' or 'payload-location' should be specified");
        try {
          payload = readFileSync(flags.payloadLocation, 'utf8');
        } catch (error) {
          throw new SidekeyError('USAGE', `Error reading from ${flags.payloadLocation}: ${(error as NodeJS.ErrnoException).code}`);
        }
      }
      const written = await withService(flags.applicationName, (s) =>
        s.create(flags.applicationName, flags.name as string, payload, { actor: cliActor() }),
      );
      info(`Created application secret with name: ${written.name} and version: ${written.serial}`);
    });

  common(program.command('fetch').alias('get').description('Gets a secret.'))
    .option('--name <name>', 'Specifies the name of the secret.')
    .option('--serial <serial>', 'Specifies the verison of the secret.')
    .action(async (flags: { applicationName: string; name?: string; serial?: string }) => {
      if (!flags.name) throw new SidekeyError('USAGE', 'Incorrect usage. --name should be specified');
      const name = flags.name;
      const app = flags.applicationName;
      const record = await withService(app, (s) => fetchEcsSecretsRecord(s, app, name, flags.serial, cliActor()));
      if (!record) throw new SidekeyError('SECRET_NOT_FOUND', `Secret with name '${name}' not found`);
      process.stdout.write(`${goJson(record)}\n`);
    });

  common(program.command('revoke').description('Revokes a secret.'))
    .option('--name <name>', 'Specifies the name of the secret.')
    .option('--serial <serial>', 'Specifies the verison of the secret.')
    .action(async (flags: { applicationName: string; name?: string; serial?: string }) => {
      if (!flags.name || flags.serial === undefined)
        throw new SidekeyError('USAGE', 'Incorrect usage. --name and --serial should be specified');
      const serial = atoi(flags.serial);
      if (serial === undefined) throw new SidekeyError('USAGE', `strconv.Atoi: parsing "${flags.serial.slice(0, 20)}": invalid syntax`);
      if (serial >= 1) {
        await withService(flags.applicationName, async (s) => {
          try {
            await s.revoke(flags.applicationName, flags.name as string, serial, cliActor());
          } catch (error) {
            if (!isSidekeyError(error, 'SECRET_NOT_FOUND')) throw error;
          }
        });
      }
      info(`Revoked secret: ${flags.name}`);
    });

  common(program.command('daemon').description('Starts ECS Secrets daemon.')).action(
    async (flags: { applicationName: string; debug?: boolean }) => {
      const loaded = environmentConfig(flags.applicationName, flags.debug === true);
      const logger = createLogger({ level: loaded.config.logging.level });
      const daemon = new Daemon({ loaded, logger, reloadConfig: () => loaded });
      const stop = (code: number) => {
        daemon
          .stop()
          .catch((error: unknown) => logger.error({ err: serializeError(error) }, 'stop failed'))
          .finally(() => {
            logger.flush();
            process.exit(code);
          });
      };
      process.on('SIGTERM', () => stop(ExitCode.SIGTERM));
      process.on('SIGINT', () => stop(ExitCode.SIGINT));
      await daemon.start();
    },
  );
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildEcsSecretsProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? ExitCode.OK : ExitCode.FAILURE;
      return;
    }
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = ExitCode.FAILURE;
  }
}

await main(process.argv);

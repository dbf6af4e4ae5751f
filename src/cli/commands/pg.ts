/**
 * `sidekey pg token` prints an RDS IAM token for a target (for tools that take one);
 * `sidekey pg connect` opens psql through an ephemeral listener of the proxy: a unix socket in a
 * fresh 0700 directory, so no other local user can reach the operator's session while psql runs
 * (a loopback TCP port would be open to every user of the machine).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { type LoadedConfig, loadConfig } from '../../core/config/load-config.js';
import { createCredentialBroker, type ManagedCredentialBroker } from '../../core/credentials/create-credential-broker.js';
import { SidekeyError } from '../../core/errors.js';
import { createLogger, type Logger, silentLogger } from '../../core/log/logger.js';
import { MetricsRegistry } from '../../core/metrics/metrics-registry.js';
import { IamTokenCache } from '../../core/pg/iam-token-cache.js';
import { iamToken } from '../../pg-proxy/client-policy.js';
import { createPgFront } from '../../pg-proxy/pg-front.js';
import { allowedDbUsers, buildPgTarget } from '../../pg-proxy/pg-target.js';
import { RDS_CA_BUNDLE_URL } from '../../pg-proxy/upstream-endpoint.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';

const PG_HELP = `
Targets live under postgres.targets in the config (docs/postgres.md).

TLS to RDS is verified (tls.mode: verify-full) against a CA bundle. Download the RDS global
bundle once and point tls.ca_file at it:
  curl -o rds-global-bundle.pem ${RDS_CA_BUNDLE_URL}

The identity that signs tokens needs rds-db:connect on
  arn:aws:rds-db:REGION:ACCOUNT:dbuser:DB-RESOURCE-ID/DB-USER
and the DB user needs: GRANT rds_iam TO DB-USER;`;

interface PgOptions {
  target: string;
  config: string;
  user?: string;
}

function targetConfig(loaded: LoadedConfig, name: string) {
  const target = loaded.config.postgres?.targets[name];
  if (!target) {
    const known = Object.keys(loaded.config.postgres?.targets ?? {});
    throw new SidekeyError(
      'USAGE',
      `no target named "${name}" under postgres.targets in ${loaded.file}${known.length ? ` (have: ${known.join(', ')})` : ''}`,
    );
  }
  return target;
}

async function withBroker<T>(loaded: LoadedConfig, logger: Logger, run: (broker: ManagedCredentialBroker) => Promise<T>): Promise<T> {
  const broker = createCredentialBroker(loaded, logger, new MetricsRegistry());
  await broker.start();
  try {
    return await run(broker);
  } finally {
    await broker.stop();
  }
}

export function registerPg(program: Command): void {
  const pg = program
    .command('pg')
    .description('Postgres IAM proxy helpers: tokens and psql through the proxy')
    .addHelpText('after', PG_HELP);

  pg.command('token')
    .description('print an RDS IAM auth token for a target (valid 15 minutes)')
    .requiredOption('-t, --target <name>', 'target under postgres.targets')
    .option('-u, --user <db-user>', "DB user (default: the target's user)")
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .addHelpText('after', PG_HELP)
    .action(async (options: PgOptions) => {
      const loaded = loadConfig(options.config);
      const config = targetConfig(loaded, options.target);
      if (config.auth !== 'iam')
        throw new SidekeyError('USAGE', `target "${options.target}" uses password auth, not IAM: there is no token to print`);
      const user = options.user ?? config.user;
      if (!allowedDbUsers(config).has(user))
        throw new SidekeyError('USAGE', `DB user "${user}" is not configured for target "${options.target}"`);
      const token = await withBroker(loaded, silentLogger(), async (broker) => {
        const target = buildPgTarget(options.target, loaded.config, broker, 0);
        return iamToken(target, user, new IamTokenCache());
      });
      process.stdout.write(`${token}\n`);
    });

  pg.command('connect')
    .description('open psql to a target through an ephemeral local listener (extra arguments go to psql)')
    .requiredOption('-t, --target <name>', 'target under postgres.targets')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .argument('[psql-args...]', 'arguments passed to psql after --')
    .addHelpText('after', PG_HELP)
    .action(async (psqlArgs: string[], options: PgOptions) => {
      const loaded = loadConfig(options.config);
      const config = targetConfig(loaded, options.target);
      const postgres = loaded.config.postgres as NonNullable<LoadedConfig['config']['postgres']>;
      // mkdtemp makes the directory 0700: only this user can reach the socket inside it.
      const socketDir = mkdtempSync(join(tmpdir(), 'sidekey-pg-'));
      // psql finds a server at DIR/.s.PGSQL.PORT when given -h DIR -p PORT.
      const socketPort = 5432;
      // Only this target, trusted, on that socket (the listener lives as long as psql).
      const ephemeral: LoadedConfig = {
        ...loaded,
        config: {
          ...loaded.config,
          postgres: {
            ...postgres,
            server: undefined,
            targets: {
              [options.target]: {
                ...config,
                listen: { kind: 'unix', path: join(socketDir, `.s.PGSQL.${socketPort}`) },
                client_auth: 'trust',
                client_tls: undefined,
              },
            },
          },
        },
      };
      const logger = createLogger({ level: 'warn', destination: process.stderr as never });
      const code = await withBroker(ephemeral, logger, async (broker) => {
        const front = createPgFront({ loaded: ephemeral, logger, metrics: new MetricsRegistry(), broker: broker });
        await front.start();
        try {
          if (front.listenerAddress(options.target)?.kind !== 'unix')
            throw new SidekeyError('LISTEN_FAILED', 'the ephemeral listener did not start');
          const args = ['-U', config.user, ...(config.database ? ['-d', config.database] : []), ...psqlArgs];
          const env = { ...process.env, PGHOST: socketDir, PGPORT: String(socketPort), PGSSLMODE: 'disable' };
          const child = spawn('psql', args, { stdio: 'inherit', env });
          return await new Promise<number>((resolve, reject) => {
            child.once('error', (error) =>
              reject(
                new SidekeyError('USAGE', `cannot run psql (${(error as NodeJS.ErrnoException).code}): install the PostgreSQL client`, {
                  cause: error,
                }),
              ),
            );
            child.once('exit', (exitCode) => resolve(exitCode ?? 1));
          });
        } finally {
          await front.stop(0);
        }
      }).finally(() => rmSync(socketDir, { recursive: true, force: true }));
      process.exitCode = code;
    });
}

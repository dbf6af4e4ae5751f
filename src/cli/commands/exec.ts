/**
 * `sidekey exec --service NAME -- CMD ARGS`: runs a command with one service's credentials from an
 * ephemeral in-process endpoint (127.0.0.1, random port, random token), so local development needs
 * no keys in the environment. Signals are forwarded; the exit code is the child's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { pino } from 'pino';
import { CREDENTIAL_ENDPOINT_CAPS } from '../../core/config/connection-limits.js';
import { formatListenAddress } from '../../core/config/listen-address.js';
import { type LoadedConfig, loadConfig } from '../../core/config/load-config.js';
import type { ServiceConfig } from '../../core/config/sections/credentials-section.js';
import { createCredentialBroker } from '../../core/credentials/create-credential-broker.js';
import { DynamicServiceFiles } from '../../core/credentials/dynamic-service-files.js';
import { randomToken } from '../../core/crypto/random-token.js';
import { SidekeyError } from '../../core/errors.js';
import { createLogger } from '../../core/log/logger.js';
import { MetricsRegistry } from '../../core/metrics/metrics-registry.js';
import { createCredentialEndpointFront } from '../../credential-endpoint/credential-endpoint-front.js';
import { CREDENTIALS_PATH } from '../../credential-endpoint/credential-request-handler.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { forwardSignals } from '../forward-signals.js';
import { childEnv } from './exec-env.js';

/** Exit status when the command cannot be started (as shells use). */
export const EXIT_COMMAND_NOT_FOUND = 127;
export const EXIT_COMMAND_NOT_EXECUTABLE = 126;
/** Signals passed on to the child; the terminal's SIGINT reaches it directly as well. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
/** How long the ephemeral endpoint lets an in-flight request finish when the child has exited. */
const STOP_DRAIN_MS = 100;

interface ExecOptions {
  service: string;
  config: string;
  keepAwsConfig?: boolean;
}

/** Finds the service in the main config or the dynamic service files. */
function findService(loaded: LoadedConfig, name: string): ServiceConfig {
  const own = loaded.config.services[name];
  if (own) return own;
  const dynamic = new DynamicServiceFiles(() => {}).scan(loaded.config.dynamic_services, new Set(Object.keys(loaded.config.services)));
  const found = dynamic.get(name)?.config;
  if (!found) throw new SidekeyError('USAGE', `no service named "${name}" in ${loaded.file} (services or dynamic_services)`);
  return found;
}

/** A config with only this service, a fresh token and one loopback listener on a random port. */
function ephemeralConfig(loaded: LoadedConfig, name: string, token: string): LoadedConfig {
  const { auth_token_file: _file, ...service } = findService(loaded, name);
  const config = {
    ...loaded.config,
    server: {
      listeners: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }] as const,
      allowed_hosts: [],
      debug: false,
      log_health_checks: false,
      max_connections: CREDENTIAL_ENDPOINT_CAPS.max,
      max_connections_per_source: CREDENTIAL_ENDPOINT_CAPS.perSource,
    },
    services: { [name]: { ...service, auth_token: token, enabled: true } },
    dynamic_services: { ...loaded.config.dynamic_services, enabled: false },
  };
  return { file: loaded.file, config, substitutions: [] };
}

async function execWithCredentials(command: string, args: string[], options: ExecOptions): Promise<number> {
  const loaded = loadConfig(options.config);
  const token = randomToken();
  const ephemeral = ephemeralConfig(loaded, options.service, token);
  // Logs go to stderr at warn and above, so the command's own output stays clean.
  const logger = createLogger({ level: 'warn', destination: pino.destination({ dest: 2, sync: true }) });
  const metrics = new MetricsRegistry();
  const broker = createCredentialBroker(ephemeral, logger, metrics);
  const front = createCredentialEndpointFront({ loaded: ephemeral, logger, metrics, broker: broker });
  const shutdown = async () => {
    await front.stop(STOP_DRAIN_MS);
    await broker.stop();
  };
  await front.start();
  await broker.start();
  try {
    await broker.get(options.service);
  } catch (error) {
    await shutdown();
    const reason = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw new SidekeyError('CREDENTIALS_UNAVAILABLE', `cannot get credentials for service "${options.service}"${reason}`, { cause: error });
  }
  const address = front.addresses()[0];
  if (!address) throw new SidekeyError('LISTEN_FAILED', 'the ephemeral endpoint has no address');
  const source = ephemeral.config.services[options.service]?.source_credentials;
  const env = childEnv(process.env, {
    fullUri: `http://${formatListenAddress(address)}${CREDENTIALS_PATH}`,
    token,
    region: source?.region ?? ephemeral.config.aws_defaults?.region,
    keepAwsConfig: options.keepAwsConfig === true,
  });

  // Assigned on the next line; the forwarded signals read it only on a later turn.
  let child: ChildProcess;
  const stopForwarding = forwardSignals(FORWARDED_SIGNALS, () => child);
  child = spawn(command, args, { stdio: 'inherit', env });
  const status = await new Promise<number>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      process.stderr.write(`sidekey: cannot run ${command} (${error.code ?? error.message})\n`);
      resolve(error.code === 'ENOENT' ? EXIT_COMMAND_NOT_FOUND : EXIT_COMMAND_NOT_EXECUTABLE);
    });
    child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
  stopForwarding();
  await shutdown();
  return status;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description("run a command with one service's credentials from an ephemeral local endpoint (no keys in its environment)")
    .requiredOption('-s, --service <name>', 'the service whose role the command gets')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .option('--keep-aws-config', 'leave AWS_CONFIG_FILE visible to the command (its profiles may then outrank the endpoint)')
    .argument('<command>', 'the command to run (put -- before it)')
    .argument('[args...]', 'its arguments')
    .action(async (command: string, args: string[], options: ExecOptions) => {
      const status = await execWithCredentials(command, args, options);
      process.exit(status);
    });
}

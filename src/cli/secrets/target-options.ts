/** The flags every `sidekey secrets` command shares, and running a command with its client. */
import type { Command } from 'commander';
import { SidekeyError } from '../../core/errors.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { AgentReader } from './agent-reader.js';
import { openClient, readToken, type TargetFlags } from './open-client.js';
import type { SecretsClient } from './secrets-client.js';
import { storeReader, type ValueReader } from './value-reader.js';

export function addTargetOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'config file whose secrets section names the store and keyring', DEFAULT_CONFIG_FILE)
    .option('--application-name <name>', 'application namespace (default: secrets.application in the config)')
    .option('--endpoint <url>', 'talk to a running daemon instead, e.g. http://127.0.0.1:8080')
    .option('--token-file <file>', 'file holding the bearer token for --endpoint');
}

export const stderr = (text: string) => {
  process.stderr.write(text);
};

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export async function withClient<T>(flags: TargetFlags, run: (client: SecretsClient) => Promise<T>): Promise<T> {
  const client = openClient(flags, stderr);
  try {
    return await run(client);
  } finally {
    await client.close();
  }
}

/** `--agent URL`, for the commands that read values (exec, render): Secrets Manager and Parameter Store through a daemon's agent API. */
export function addAgentOption(command: Command): Command {
  return command.option(
    '--agent <url>',
    "read through a daemon's agent API instead (e.g. http://127.0.0.1:2773, token in --token-file): names are Secrets Manager secrets, or parameters as ssm:NAME",
  );
}

/** Runs `run` with the reader the flags name: the agent API, or sidekey's store (direct or a daemon's). */
export async function withReader<T>(flags: TargetFlags, run: (reader: ValueReader) => Promise<T>): Promise<T> {
  if (flags.agent === undefined) return withClient(flags, (client) => run(storeReader(client)));
  if (flags.endpoint !== undefined) throw new SidekeyError('USAGE', '--agent and --endpoint name two different APIs: give one');
  if (flags.tokenFile === undefined) throw new SidekeyError('USAGE', '--agent needs --token-file FILE with the agent token');
  return run(new AgentReader(flags.agent, readToken(flags.tokenFile)));
}

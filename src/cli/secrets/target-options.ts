/** The flags every `sidekey secrets` command shares, and running a command with its client. */
import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { openClient, type TargetFlags } from './open-client.js';
import type { SecretsClient } from './secrets-client.js';

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

/**
 * `sidekey secrets exec`: runs a command with chosen secrets in its environment (and nothing else
 * with --pristine), forwarding signals and exiting with its status. `sidekey secrets export`:
 * prints secrets as json or dotenv.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type Command, Option } from 'commander';
import { isSidekeyError, SidekeyError } from '../../core/errors.js';
import { EXPORT_FORMATS, type ExportFormat, formatExport, parseEnvSpec } from '../secrets/env-export.js';
import type { TargetFlags } from '../secrets/open-client.js';
import { addTargetOptions, stderr, withClient } from '../secrets/target-options.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
const collect = (value: string, previous: string[]) => [...previous, value];

export function registerSecretsExec(secrets: Command): void {
  addTargetOptions(secrets.command('exec'))
    .description('run a command with secrets in its environment: exec --env DB_PASSWORD=dbpassword -- CMD ARGS')
    .option('--env <VAR=name[:serial]>', 'put a secret in VAR (repeatable)', collect, [])
    .option('--pristine', 'start the command with only the --env variables (and PATH), not this environment')
    .argument('<command...>', 'the command and its arguments, after --')
    .action(async (command: string[], flags: TargetFlags & { env: string[]; pristine?: boolean }) => {
      if (flags.env.length === 0) throw new SidekeyError('USAGE', 'exec needs at least one --env VAR=secret-name');
      const specs = flags.env.map(parseEnvSpec);
      const values = await withClient(flags, async (client) => {
        const out: Record<string, string> = {};
        for (const spec of specs) out[spec.variable] = (await client.fetch(spec.name, spec.serial)).payload;
        return out;
      });
      const base = flags.pristine ? (process.env.PATH ? { PATH: process.env.PATH } : {}) : { ...process.env };
      const [file, ...args] = command as [string, ...string[]];
      const child = spawn(file, args, { stdio: 'inherit', env: { ...base, ...values } });
      const forward = (signal: NodeJS.Signals) => child.kill(signal);
      for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
      const status = await new Promise<number>((resolve, reject) => {
        child.once('error', (error) =>
          reject(new SidekeyError('USAGE', `cannot run ${file} (${(error as NodeJS.ErrnoException).code})`, { cause: error })),
        );
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      process.exitCode = status;
    });

  addTargetOptions(secrets.command('export'))
    .description('print the latest active version of secrets as json or dotenv (default: every name)')
    .option('--name <name>', 'a secret to export (repeatable; default: all)', collect, [])
    .addOption(new Option('--format <format>', 'output format').choices(EXPORT_FORMATS).default('json'))
    .action(async (flags: TargetFlags & { name: string[]; format: string }) => {
      const values = await withClient(flags, async (client) => {
        const names = flags.name.length > 0 ? flags.name : await client.list();
        const out = new Map<string, string>();
        for (const name of names) {
          try {
            out.set(name, (await client.fetch(name, undefined)).payload);
          } catch (error) {
            // A name whose every version is revoked is left out (and said so) when exporting all.
            if (flags.name.length > 0 || !isSidekeyError(error, 'SECRET_REVOKED')) throw error;
            stderr(`sidekey: ${name} is skipped: every version is revoked\n`);
          }
        }
        return out;
      });
      process.stdout.write(formatExport(values, flags.format as ExportFormat));
    });
}

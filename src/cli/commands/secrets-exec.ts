/**
 * `sidekey secrets exec`: runs a command with chosen secrets in its environment (and nothing else
 * with --pristine), forwarding signals and exiting with its status. With --on-change it watches
 * those secrets and, once a change has settled and every value could be fetched, restarts the
 * command with the new values or sends it a signal; a failed fetch never restarts it.
 * `sidekey secrets export`: prints secrets as json or dotenv.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { type Command, Option } from 'commander';
import { isSidekeyError, SidekeyError } from '../../core/errors.js';
import { forwardSignals } from '../forward-signals.js';
import { debounced, watchNames } from '../secrets/change-watch.js';
import {
  type EnvSpec,
  EXPORT_FORMATS,
  type ExportFormat,
  envNameOf,
  formatExport,
  parseAgentEnvSpec,
  parseEnvSpec,
} from '../secrets/env-export.js';
import type { TargetFlags } from '../secrets/open-client.js';
import { addAgentOption, addTargetOptions, stderr, withClient, withReader } from '../secrets/target-options.js';
import type { ValueReader } from '../secrets/value-reader.js';

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
/** How long a restarted command has to exit after SIGTERM before it gets SIGKILL, in ms. */
export const RESTART_GRACE_MS = 10_000;
const collect = (value: string, previous: string[]) => [...previous, value];

type OnChange = { readonly restart: true } | { readonly signal: NodeJS.Signals };

export function parseOnChange(text: string): OnChange {
  if (text === 'restart') return { restart: true };
  const signal = /^signal:(?:SIG)?([A-Z0-9]+)$/.exec(text)?.[1];
  const name = `SIG${signal ?? ''}` as NodeJS.Signals;
  if (signal === undefined || !(name in constants.signals))
    throw new SidekeyError('USAGE', `--on-change must be restart or signal:NAME (such as signal:HUP), not ${JSON.stringify(text)}`);
  return { signal: name };
}

interface Fetched {
  readonly values: Record<string, string>;
  /** The version of each name read unpinned: what a watch starts from. */
  readonly versions: Map<string, string>;
}

/** `--env-from ssm:/PATH/`: each parameter under PATH in a variable named after its name below PATH (db/host -> DB_HOST). */
export function parseEnvFrom(text: string): string {
  if (!/^ssm:\/.*\/$/.test(text))
    throw new SidekeyError('USAGE', `--env-from ${text}: expected ssm:/PATH/ (a parameter path, ending in /)`);
  return text;
}

async function fetchAll(reader: ValueReader, specs: readonly EnvSpec[], from: readonly string[]): Promise<Fetched> {
  const values: Record<string, string> = {};
  const versions = new Map<string, string>();
  const origin = new Map<string, string>();
  const set = (variable: string, value: string, source: string) => {
    const earlier = origin.get(variable);
    if (earlier !== undefined) throw new SidekeyError('USAGE', `${variable} would come from both ${earlier} and ${source}: rename one`);
    origin.set(variable, source);
    values[variable] = value;
  };
  for (const path of from) {
    const value = await reader.read(path);
    for (const [name, text] of Object.entries(JSON.parse(value.payload) as Record<string, string>))
      set(envNameOf(name.replaceAll('/', '_')), text, `${path}${name}`);
    versions.set(path, value.version);
  }
  for (const spec of specs) {
    const value = await reader.read(spec.name, spec.serial);
    set(spec.variable, value.payload, spec.name);
    if (spec.serial === undefined) versions.set(spec.name, value.version);
  }
  return { values, versions };
}

export function registerSecretsExec(secrets: Command): void {
  addAgentOption(addTargetOptions(secrets.command('exec')))
    .description('run a command with secrets in its environment: exec --env DB_PASSWORD=dbpassword -- CMD ARGS')
    .option('--env <VAR=name[:serial]>', 'put a secret in VAR (repeatable)', collect, [])
    .option(
      '--env-from <ssm:/PATH/>',
      'with --agent: every parameter under PATH, each in a variable named after it (repeatable)',
      collect,
      [],
    )
    .option('--pristine', 'start the command with only the --env variables (and PATH), not this environment')
    .option('--on-change <action>', 'when a secret changes: restart (the command, with the new values) or signal:NAME (such as signal:HUP)')
    .argument('<command...>', 'the command and its arguments, after --')
    .action(async (command: string[], flags: TargetFlags & { env: string[]; envFrom: string[]; pristine?: boolean; onChange?: string }) => {
      if (flags.env.length + flags.envFrom.length === 0) throw new SidekeyError('USAGE', 'exec needs at least one --env VAR=secret-name');
      if (flags.envFrom.length > 0 && flags.agent === undefined)
        throw new SidekeyError('USAGE', '--env-from reads Parameter Store through the agent API: add --agent URL');
      const specs = flags.env.map(flags.agent === undefined ? parseEnvSpec : parseAgentEnvSpec);
      const from = flags.envFrom.map(parseEnvFrom);
      const onChange = flags.onChange === undefined ? undefined : parseOnChange(flags.onChange);
      const base = flags.pristine ? (process.env.PATH ? { PATH: process.env.PATH } : {}) : { ...process.env };
      const [file, ...args] = command as [string, ...string[]];
      const start = (values: Record<string, string>) => spawn(file, args, { stdio: 'inherit', env: { ...base, ...values } });
      const exited = (child: ChildProcess) =>
        new Promise<number>((resolve, reject) => {
          child.once('error', (error) =>
            reject(new SidekeyError('USAGE', `cannot run ${file} (${(error as NodeJS.ErrnoException).code})`, { cause: error })),
          );
          child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
        });

      if (!onChange) {
        const { values } = await withReader(flags, (reader) => fetchAll(reader, specs, from));
        // Assigned in the try; the forwarded signals read it only on a later turn.
        let child: ChildProcess;
        const stopForwarding = forwardSignals(FORWARDED_SIGNALS, () => child);
        try {
          child = start(values);
          process.exitCode = await exited(child);
        } finally {
          stopForwarding();
        }
        return;
      }

      await withReader(flags, async (reader) => {
        let current = await fetchAll(reader, specs, from);
        let restarting = false;
        let finish: (status: number) => void = () => {};
        let fail: (error: unknown) => void = () => {};
        const done = new Promise<number>((resolve, reject) => {
          finish = resolve;
          fail = reject;
        });
        // The command's own exit ends exec; one ended by a restart does not.
        const launch = (values: Record<string, string>) => {
          const started = start(values);
          exited(started).then((status) => {
            if (!restarting) finish(status);
          }, fail);
          return started;
        };
        // Assigned on the next line; the forwarded signals read it only on a later turn.
        let child: ChildProcess;
        const stopForwarding = forwardSignals(FORWARDED_SIGNALS, () => child);
        child = launch(current.values);
        const stopWatching = new AbortController();
        const react = debounced(async () => {
          let next: Fetched;
          try {
            next = await fetchAll(reader, specs, from);
          } catch (error) {
            stderr(`sidekey: a secret changed but cannot be fetched (${(error as Error).message}); ${file} keeps running as it is\n`);
            return;
          }
          const same = JSON.stringify(next.values) === JSON.stringify(current.values);
          current = next;
          if (same) return;
          if ('signal' in onChange) {
            stderr(`sidekey: a secret changed; sending ${onChange.signal} to ${file}\n`);
            child.kill(onChange.signal);
            return;
          }
          stderr(`sidekey: a secret changed; restarting ${file}\n`);
          restarting = true;
          const old = child;
          const gone = exited(old).catch(() => 0);
          old.kill('SIGTERM');
          const kill = setTimeout(() => old.kill('SIGKILL'), RESTART_GRACE_MS);
          await gone;
          clearTimeout(kill);
          child = launch(current.values);
          restarting = false;
        });
        watchNames(reader, current.versions, () => react.trigger(), stopWatching.signal, stderr);
        try {
          process.exitCode = await done;
        } finally {
          react.cancel();
          stopWatching.abort();
          stopForwarding();
        }
      });
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

/**
 * `sidekey secrets render`: writes a file from a template with `{{ secret "NAME" }}` actions,
 * atomically and private (a 0600 temporary file, flushed, renamed over the old one), so a reader
 * sees the old file or the new, never half of one. With --watch it stays, and re-renders once a
 * change has settled and every secret could be fetched; a failed fetch leaves the file as it was.
 * A file outside tmpfs gets a warning (the secret outlives the process on disk), and
 * --remove-on-exit takes the file away when a watch stops.
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import type { Command } from 'commander';
import { writePrivateFile } from '../../core/config/write-private-file.js';
import { SidekeyError } from '../../core/errors.js';
import { onMemoryFilesystem } from '../../core/hygiene/memory-filesystem.js';
import { debounced, watchNames } from '../secrets/change-watch.js';
import type { TargetFlags } from '../secrets/open-client.js';
import { parseSecretTemplate, type SecretTemplate } from '../secrets/secret-template.js';
import { addAgentOption, addTargetOptions, stderr, withReader } from '../secrets/target-options.js';
import type { ValueReader } from '../secrets/value-reader.js';

interface Rendered {
  readonly text: string;
  readonly versions: Map<string, string>;
}

async function renderOnce(reader: ValueReader, template: SecretTemplate): Promise<Rendered> {
  const values = new Map<string, string>();
  const versions = new Map<string, string>();
  for (const name of template.names) {
    const value = await reader.read(name);
    values.set(name, value.payload);
    versions.set(name, value.version);
  }
  return { text: template.render(values), versions };
}

function write(out: string, text: string): void {
  try {
    writePrivateFile(out, text);
  } catch (error) {
    throw new SidekeyError('USAGE', `cannot write --out ${out} (${(error as NodeJS.ErrnoException).code})`, { cause: error });
  }
}

export function registerSecretsRender(secrets: Command): void {
  addAgentOption(addTargetOptions(secrets.command('render')))
    .description('write a file from a template: {{ secret "NAME" }} becomes the secret; --watch re-renders on change')
    .requiredOption('--template <file>', 'the template')
    .requiredOption('--out <file>', 'the file to write (mode 0600, replaced atomically)')
    .option('--watch', 'keep running and re-render when a secret changes (until SIGINT or SIGTERM)')
    .option('--remove-on-exit', 'with --watch: delete --out when the watch stops')
    .action(async (flags: TargetFlags & { template: string; out: string; watch?: boolean; removeOnExit?: boolean }) => {
      if (flags.removeOnExit && !flags.watch)
        throw new SidekeyError(
          'USAGE',
          '--remove-on-exit needs --watch: without it render writes --out once and exits, leaving it to its reader',
        );
      let text: string;
      try {
        text = readFileSync(flags.template, 'utf8');
      } catch (error) {
        throw new SidekeyError('USAGE', `cannot read --template ${flags.template} (${(error as NodeJS.ErrnoException).code})`, {
          cause: error,
        });
      }
      const template = parseSecretTemplate(text, flags.template);
      if (onMemoryFilesystem(dirname(resolvePath(flags.out))) === false)
        stderr(
          `sidekey: warning: --out ${flags.out} is not on a tmpfs: the secret stays on disk after every reader is done, and reaches snapshots and backups; write it under /dev/shm, /run or a memory-backed volume\n`,
        );
      // Listening before the first write: a stop that comes as the file appears still cleans up.
      const stopped = flags.watch
        ? new Promise<void>((resolve) => {
            const end = () => resolve();
            process.once('SIGINT', end);
            process.once('SIGTERM', end);
          })
        : undefined;
      await withReader(flags, async (reader) => {
        let rendered = await renderOnce(reader, template);
        write(flags.out, rendered.text);
        if (!stopped || template.names.length === 0) return;
        const stop = new AbortController();
        const react = debounced(async () => {
          let next: Rendered;
          try {
            next = await renderOnce(reader, template);
          } catch (error) {
            stderr(`sidekey: a secret changed but cannot be fetched (${(error as Error).message}); ${flags.out} is left as it was\n`);
            return;
          }
          if (next.text !== rendered.text) {
            write(flags.out, next.text);
            stderr(`sidekey: ${flags.out} re-rendered\n`);
          }
          rendered = next;
        });
        watchNames(reader, rendered.versions, () => react.trigger(), stop.signal, stderr);
        await stopped;
        stop.abort();
        // A render under way finishes first, so nothing writes the file after it is removed.
        await react.cancel();
        if (flags.removeOnExit) {
          try {
            rmSync(flags.out, { force: true });
          } catch (error) {
            throw new SidekeyError('USAGE', `cannot remove --out ${flags.out} (${(error as NodeJS.ErrnoException).code})`, {
              cause: error,
            });
          }
          stderr(`sidekey: removed ${flags.out}\n`);
        }
      });
    });
}

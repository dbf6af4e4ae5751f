/**
 * `sidekey secrets render`: writes a file from a template with `{{ secret "NAME" }}` actions,
 * atomically and private (a 0600 temporary file, flushed, renamed over the old one), so a reader
 * sees the old file or the new, never half of one. With --watch it stays, and re-renders once a
 * change has settled and every secret could be fetched; a failed fetch leaves the file as it was.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { writePrivateFile } from '../../core/config/write-private-file.js';
import { SidekeyError } from '../../core/errors.js';
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
    .action(async (flags: TargetFlags & { template: string; out: string; watch?: boolean }) => {
      let text: string;
      try {
        text = readFileSync(flags.template, 'utf8');
      } catch (error) {
        throw new SidekeyError('USAGE', `cannot read --template ${flags.template} (${(error as NodeJS.ErrnoException).code})`, {
          cause: error,
        });
      }
      const template = parseSecretTemplate(text, flags.template);
      await withReader(flags, async (reader) => {
        let rendered = await renderOnce(reader, template);
        write(flags.out, rendered.text);
        if (!flags.watch || template.names.length === 0) return;
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
        await new Promise<void>((resolve) => {
          const end = () => resolve();
          process.once('SIGINT', end);
          process.once('SIGTERM', end);
        });
        react.cancel();
        stop.abort();
      });
    });
}

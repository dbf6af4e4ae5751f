import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../core/config/load-config.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { ExitCode } from '../exit-codes.js';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('check a config file and print every problem (exit 1 on any)')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .action((options: { config: string }) => {
      try {
        const loaded = loadConfig(options.config);
        process.stdout.write(`${loaded.file}: ok\n`);
      } catch (error) {
        if (error instanceof ConfigError) {
          process.stderr.write(`${error.message}\n`);
          process.exitCode = ExitCode.FAILURE;
          return;
        }
        throw error;
      }
    });
}

/** `sidekey check`: a security review of a config and the host it runs on; exit 1 on any failure. */
import { type Command, Option } from 'commander';
import { loadConfig } from '../../core/config/load-config.js';
import { hasFailure } from '../../core/hygiene/finding.js';
import { formatFindingsJson, formatFindingsText } from '../../core/hygiene/format-findings.js';
import { runChecks } from '../../core/hygiene/run-checks.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { ExitCode } from '../exit-codes.js';

const FORMATS = ['text', 'json'] as const;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('review a config and this host for security problems (exit 1 on any failure); docs/hygiene.md lists the checks')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('text'))
    .option('--offline', 'do not ask IAM how old access keys are')
    .action(async (options: { config: string; format: string; offline?: boolean }) => {
      const loaded = loadConfig(options.config);
      const findings = await runChecks(loaded, { online: !options.offline });
      const render = options.format === 'json' ? formatFindingsJson : formatFindingsText;
      process.stdout.write(render(loaded.file, findings));
      if (hasFailure(findings)) process.exitCode = ExitCode.FAILURE;
    });
}

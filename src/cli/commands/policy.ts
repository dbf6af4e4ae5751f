/** `sidekey policy`: prints the least-privilege IAM policy documents a config needs. */
import { type Command, Option } from 'commander';
import { loadConfig } from '../../core/config/load-config.js';
import { nameProblem } from '../../core/config/validators.js';
import { SidekeyError } from '../../core/errors.js';
import { buildPolicies } from '../../core/hygiene/build-policies.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';

const FORMATS = ['json', 'text'] as const;
const ACCOUNT_ID = /^\d{12}$/;

interface PolicyFlags {
  config: string;
  format: string;
  accountId?: string;
  application?: string;
}

export function registerPolicy(program: Command): void {
  program
    .command('policy')
    .description('print the least-privilege IAM policies for the daemon, its services and the secrets admin and fetch roles')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('json'))
    .option('--account-id <id>', 'the 12-digit account id, where the config cannot tell it')
    .option('--application <name>', 'application for the secrets admin and fetch policies (default: secrets.application)')
    .action((flags: PolicyFlags) => {
      if (flags.accountId !== undefined && !ACCOUNT_ID.test(flags.accountId))
        throw new SidekeyError('USAGE', '--account-id must be 12 digits');
      const problem = flags.application === undefined ? undefined : nameProblem(flags.application);
      if (problem) throw new SidekeyError('NAME_INVALID', `--application ${JSON.stringify(flags.application)} ${problem}`);
      const loaded = loadConfig(flags.config);
      const set = buildPolicies(loaded.config, {
        ...(flags.accountId ? { accountId: flags.accountId } : {}),
        ...(flags.application ? { application: flags.application } : {}),
      });
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(set, null, 2)}\n`);
        return;
      }
      const parts = set.policies.map(
        (p) => `# ${p.name}: ${p.description}\n# attach to: ${p.attachTo}\n${JSON.stringify(p.document, null, 2)}\n`,
      );
      if (set.notes.length > 0) parts.push(`# notes:\n${set.notes.map((n) => `#  - ${n}`).join('\n')}\n`);
      process.stdout.write(parts.join('\n'));
    });
}

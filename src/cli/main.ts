#!/usr/bin/env node
/** The sidekey command line. Each command lives in commands/<name>.ts and registers itself here. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isSidekeyError } from '../core/errors.js';
import { registerAdmin } from './commands/admin.js';
import { registerCheck } from './commands/check.js';
import { registerExec } from './commands/exec.js';
import { registerImds } from './commands/imds.js';
import { registerInit } from './commands/init.js';
import { registerPg } from './commands/pg.js';
import { registerPolicy } from './commands/policy.js';
import { registerSecrets } from './commands/secrets.js';
import { registerServe } from './commands/serve.js';
import { registerSetup } from './commands/setup.js';
import { registerToken } from './commands/token.js';
import { registerValidate } from './commands/validate.js';
import { ExitCode } from './exit-codes.js';

/** The package's own version, so `--version` cannot drift from package.json. */
const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('sidekey')
    .description('keeps long-lived AWS keys out of applications')
    .version(VERSION)
    .showHelpAfterError()
    .enablePositionalOptions()
    .exitOverride();
  registerServe(program);
  registerValidate(program);
  registerToken(program);
  registerExec(program);
  registerInit(program);
  registerPg(program);
  registerSecrets(program);
  registerCheck(program);
  registerPolicy(program);
  registerSetup(program);
  registerAdmin(program);
  registerImds(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
      return;
    }
    if (isSidekeyError(error)) {
      process.stderr.write(`sidekey: ${error.message}\n`);
      process.exitCode = error.kind === 'USAGE' ? ExitCode.USAGE : ExitCode.FAILURE;
      return;
    }
    process.stderr.write(`sidekey: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = ExitCode.FAILURE;
  }
}

await main(process.argv);

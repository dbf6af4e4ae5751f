/**
 * `sidekey secrets ...`: ecs-secrets' commands and flags (`--application-name`, `--name`,
 * `--payload`, `--payload-location`, `--serial`) plus stdin payloads, list, history, restore,
 * rotate, delete, rewrap, exec and export. docs/secrets.md has examples.
 */
import type { Command } from 'commander';
import { SidekeyError } from '../../core/errors.js';
import { checkSerialNumber, parseSerial } from '../../core/secrets/secret-errors.js';
import type { TargetFlags } from '../secrets/open-client.js';
import { readPayload } from '../secrets/payload-input.js';
import { addTargetOptions, printJson, stderr, withClient } from '../secrets/target-options.js';
import { registerSecretsAdmin } from './secrets-admin.js';
import { registerSecretsExec } from './secrets-exec.js';
import { registerSecretsRender } from './secrets-render.js';

type Flags = TargetFlags & {
  name: string;
  serial?: string;
  payload?: string;
  payloadLocation?: string;
  expectedSerial?: string;
  length?: string;
  alphabet?: string;
  stdin?: boolean;
  raw?: boolean;
  yes?: boolean;
};

const serialOf = (flags: Flags) => (flags.serial === undefined ? undefined : parseSerial(flags.serial, '--serial'));
const needSerial = (flags: Flags) => {
  const serial = serialOf(flags);
  if (serial === undefined) throw new SidekeyError('USAGE', '--serial is required here');
  return serial;
};
const cas = (flags: Flags) =>
  flags.expectedSerial === undefined
    ? {}
    : {
        expectedSerial: checkSerialNumber(
          /^\d+$/.test(flags.expectedSerial) ? Number(flags.expectedSerial) : Number.NaN,
          '--expected-serial',
          true,
        ),
      };

export function registerSecrets(program: Command): void {
  const secrets = program.command('secrets').description('versioned, envelope-encrypted secrets (the ecs-secrets commands and more)');

  const sub = (name: string, description: string) => addTargetOptions(secrets.command(name).description(description));

  sub('create', 'store a new version (payload from stdin, --payload-location FILE, or --payload)')
    .requiredOption('--name <name>', 'secret name')
    .option('--payload <text>', 'the payload itself (lands in shell history: prefer stdin)')
    .option('--payload-location <file>', 'read the payload from this file, byte for byte')
    .option('--expected-serial <n>', 'check-and-set: fail unless the current serial is n (0: the name must be new)')
    .action(async (flags: Flags) => {
      const payload = await readPayload(flags, stderr);
      printJson(await withClient(flags, (c) => c.create(flags.name, payload, cas(flags))));
    });

  sub('fetch', 'print the latest active version, or --serial N, as JSON (--raw: the payload only)')
    .requiredOption('--name <name>', 'secret name')
    .option('--serial <n>', 'a given serial instead of the latest active one')
    .option('--raw', 'print only the payload, with no newline added')
    .action(async (flags: Flags) => {
      const value = await withClient(flags, (c) => c.fetch(flags.name, serialOf(flags)));
      if (flags.raw) process.stdout.write(value.payload);
      else printJson(value);
    });

  sub('revoke', 'make a version inactive and destroy its ciphertext')
    .requiredOption('--name <name>', 'secret name')
    .requiredOption('--serial <n>', 'the serial to revoke')
    .action(async (flags: Flags) => printJson(await withClient(flags, (c) => c.revoke(flags.name, needSerial(flags)))));

  sub('list', 'list secret names in the application').action(async (flags: Flags) => {
    for (const name of await withClient(flags, (c) => c.list())) process.stdout.write(`${name}\n`);
  });

  sub('history', 'print every version of a name (metadata only: serial, active, created and revoked at/by)')
    .requiredOption('--name <name>', 'secret name')
    .action(async (flags: Flags) => printJson(await withClient(flags, (c) => c.history(flags.name))));

  sub('restore', 'store a new version with the payload of an older, still active one')
    .requiredOption('--name <name>', 'secret name')
    .requiredOption('--serial <n>', 'the serial to copy')
    .option('--expected-serial <n>', 'check-and-set on the current serial')
    .action(async (flags: Flags) => printJson(await withClient(flags, (c) => c.restore(flags.name, needSerial(flags), cas(flags)))));

  sub('rotate', 'store a new generated version (--length, --alphabet), or one read from stdin (--stdin)')
    .requiredOption('--name <name>', 'secret name')
    .option('--length <n>', 'characters to generate (default 32)')
    .option('--alphabet <set>', 'alnum (default), hex, base64url, symbols, or chars:CHARACTERS')
    .option('--stdin', 'read the new payload from stdin instead of generating one')
    .option('--expected-serial <n>', 'check-and-set on the current serial')
    .action(async (flags: Flags) => {
      if (flags.stdin && (flags.length !== undefined || flags.alphabet !== undefined)) {
        throw new SidekeyError('USAGE', 'cannot specify --stdin together with --length or --alphabet');
      }
      const length = flags.length === undefined ? undefined : Number(flags.length);
      const source = flags.stdin
        ? { payload: await readPayload({}, stderr) }
        : {
            generate: {
              ...(length !== undefined ? { length } : {}),
              ...(flags.alphabet !== undefined ? { alphabet: flags.alphabet } : {}),
            },
          };
      printJson(await withClient(flags, (c) => c.rotate(flags.name, source, cas(flags))));
    });

  sub('delete', 'remove every version of a name (needs --yes)')
    .requiredOption('--name <name>', 'secret name')
    .option('--yes', 'confirm: every version is removed for good')
    .action(async (flags: Flags) => {
      if (!flags.yes) throw new SidekeyError('USAGE', `delete removes every version of ${flags.name} for good: add --yes to confirm`);
      printJson(await withClient(flags, (c) => c.delete(flags.name)));
    });

  registerSecretsAdmin(secrets);
  registerSecretsExec(secrets);
  registerSecretsRender(secrets);
}

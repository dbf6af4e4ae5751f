/**
 * `sidekey imds rules --interface docker0 [--port 8169] [--apply]`: the firewall rules that send a
 * container network's metadata traffic to the guard, blocking first. Printed by default; `--apply`
 * runs them (root), in order, stopping at the first failure.
 */
import { execFileSync } from 'node:child_process';
import type { Command } from 'commander';
import { DEFAULT_IMDS_LISTEN } from '../../core/config/sections/imds-section.js';
import { SidekeyError } from '../../core/errors.js';
import { formatFirewallCommands, imdsFirewallCommands, interfaceProblem } from '../../core/imds/firewall-rules.js';

/** How long one iptables/sysctl command may run when applying, in milliseconds (-w waits for the xtables lock). */
export const APPLY_COMMAND_TIMEOUT_MS = 30_000;

interface RulesOptions {
  interface: string;
  port: string;
  apply?: boolean;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535)
    throw new SidekeyError('USAGE', `--port: expected a port from 1 to 65535, got "${text}"`);
  return port;
}

export function registerImds(program: Command): void {
  const imds = program.command('imds').description('metadata guard helpers');
  imds
    .command('rules')
    .description('print (or --apply) the iptables/ip6tables rules that redirect containers to the guard, blocking first')
    .requiredOption('-i, --interface <name>', 'container-facing interface, e.g. docker0')
    .option('-p, --port <port>', 'the guard port on 127.0.0.1', String(DEFAULT_IMDS_LISTEN.port))
    .option('--apply', 'run the rules now (needs root)')
    .action((options: RulesOptions) => {
      const problem = interfaceProblem(options.interface);
      if (problem) throw new SidekeyError('USAGE', `--interface: ${problem}`);
      const commands = imdsFirewallCommands({ iface: options.interface, port: parsePort(options.port) });
      if (!options.apply) {
        process.stdout.write(formatFirewallCommands(commands));
        return;
      }
      if (process.getuid?.() !== 0)
        throw new SidekeyError('USAGE', '--apply changes the firewall and needs root; without it the rules are printed');
      for (const command of commands) {
        const [file, ...args] = command.argv as [string, ...string[]];
        process.stdout.write(`+ ${command.argv.join(' ')}\n`);
        try {
          execFileSync(file, args, { stdio: ['ignore', 'inherit', 'inherit'], timeout: APPLY_COMMAND_TIMEOUT_MS });
        } catch (error) {
          throw new SidekeyError('CHECK_FAILED', `applying stopped at: ${command.argv.join(' ')} (the rules before it are in place)`, {
            cause: error,
          });
        }
      }
    });
}

/**
 * `sidekey admin status|disable|enable|rotate-token`: the incident-response client for a running
 * daemon's admin API. The admin token is read from a file, never from the command line (where
 * every user could see it in the process list).
 */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { nameProblem } from '../../core/config/validators.js';
import { writePrivateFile } from '../../core/config/write-private-file.js';
import { SidekeyError } from '../../core/errors.js';
import { readTokenFile } from '../../core/hygiene/secret-values.js';
import { tokenOutput } from './token.js';

/** The admin listener's default address. */
export const DEFAULT_ADMIN_ENDPOINT = 'http://127.0.0.1:9090';
/** How long one admin call may take. */
export const ADMIN_CALL_TIMEOUT_MS = 10_000;

interface AdminFlags {
  endpoint: string;
  tokenFile?: string;
  service?: string;
  out?: string;
}

function adminToken(file: string | undefined): string {
  if (!file) throw new SidekeyError('USAGE', '--token-file is required: a file holding admin.token (mode 0600)');
  try {
    if (statSync(file).mode & 0o077) process.stderr.write(`sidekey admin: warning: ${file} is readable by other users; chmod 600 it\n`);
    return readTokenFile(file);
  } catch (error) {
    throw new SidekeyError('USAGE', `cannot read --token-file ${file} (${(error as NodeJS.ErrnoException).code ?? 'read failed'})`);
  }
}

function serviceName(flags: AdminFlags): string {
  if (!flags.service) throw new SidekeyError('USAGE', '--service NAME is required');
  const problem = nameProblem(flags.service);
  if (problem) throw new SidekeyError('NAME_INVALID', `--service ${JSON.stringify(flags.service)} ${problem}`);
  return flags.service;
}

async function call(flags: AdminFlags, method: 'GET' | 'POST', path: string): Promise<Record<string, unknown>> {
  let url: URL;
  try {
    url = new URL(path, flags.endpoint);
  } catch {
    throw new SidekeyError('USAGE', `--endpoint ${JSON.stringify(flags.endpoint)} is not a URL`);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${adminToken(flags.tokenFile)}` },
      signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS),
    });
  } catch (error) {
    if (error instanceof SidekeyError) throw error;
    throw new SidekeyError(
      'UPSTREAM_FAILED',
      `cannot reach the admin API at ${url.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok)
    throw new SidekeyError(
      'UPSTREAM_FAILED',
      `${method} ${url.pathname}: ${response.status} ${String(body.Message ?? body.Code ?? response.statusText)}`,
    );
  return body;
}

export function registerAdmin(program: Command): void {
  const admin = program.command('admin').description('incident response on a running daemon (needs admin.token)');
  const common = (command: Command, needsService: boolean) =>
    command
      .option('--endpoint <url>', 'the admin listener', DEFAULT_ADMIN_ENDPOINT)
      .option('--token-file <file>', 'file holding the admin token')
      .option('--service <name>', needsService ? 'the service' : 'show one service only');

  common(admin.command('status').description('what each service holds: enabled, expiry, last refresh, last error'), false).action(
    async (flags: AdminFlags) => {
      const path = flags.service ? `/admin/services/${encodeURIComponent(serviceName(flags))}` : '/admin/services';
      process.stdout.write(`${JSON.stringify(await call(flags, 'GET', path), null, 2)}\n`);
    },
  );
  for (const action of ['disable', 'enable'] as const) {
    common(
      admin
        .command(action)
        .description(
          action === 'disable' ? 'stop vending a service at once and purge its cached credentials' : 'resume vending a disabled service',
        ),
      true,
    ).action(async (flags: AdminFlags) => {
      const body = await call(flags, 'POST', `/admin/services/${encodeURIComponent(serviceName(flags))}/${action}`);
      process.stderr.write(`sidekey admin: ${String(body.service)} ${action}d\n`);
    });
  }
  common(
    admin.command('rotate-token').description("replace a service's token with a new random one (printed once, or written to --out)"),
    true,
  )
    .option('--out <file>', 'write the new token to this file (mode 0600) instead of printing it')
    .action(async (flags: AdminFlags) => {
      const body = await call(flags, 'POST', `/admin/services/${encodeURIComponent(serviceName(flags))}/rotate-token`);
      const token = String(body.token ?? '');
      // No line ending: SDKs send a token file's content as it is.
      if (flags.out) writePrivateFile(flags.out, token);
      else process.stdout.write(tokenOutput(token));
      process.stderr.write(
        `sidekey admin: ${String(body.service)}'s token replaced (${body.persisted === 'file' ? `written to ${String(body.file)}` : String(body.warning)})\n`,
      );
    });
}

/**
 * `sidekey admin status|disable|enable|rotate-token`: the incident-response client for a running
 * daemon's admin API. The admin token is read from a file, or from the daemon's own config with
 * `--config`, never from the command line (where every user could see it in the process list).
 */
import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { adminListen } from '../../core/config/admin-listen.js';
import { formatListenAddress, type ListenAddress } from '../../core/config/listen-address.js';
import { loadConfig } from '../../core/config/load-config.js';
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
  endpoint?: string;
  tokenFile?: string;
  config?: string;
  service?: string;
  out?: string;
}

function tokenFromFile(file: string): string {
  try {
    if (statSync(file).mode & 0o077) process.stderr.write(`sidekey admin: warning: ${file} is readable by other users; chmod 600 it\n`);
    return readTokenFile(file);
  } catch (error) {
    throw new SidekeyError('USAGE', `cannot read --token-file ${file} (${(error as NodeJS.ErrnoException).code ?? 'read failed'})`);
  }
}

/** Where a client reaches a TCP listener: a wildcard bind is reached on loopback. */
function listenerUrl(address: ListenAddress, file: string): string {
  if (address.kind === 'unix')
    throw new SidekeyError(
      'USAGE',
      `${file}: admin.listen is the unix socket ${address.path}; sidekey admin speaks TCP (curl --unix-socket ${address.path} reaches it)`,
    );
  const host = address.host === '0.0.0.0' ? '127.0.0.1' : address.host === '::' ? '::1' : address.host;
  return `http://${formatListenAddress({ ...address, host })}`;
}

/** The admin API's URL and token: from the flags, else from the daemon's config (`--config`). */
function adminTarget(flags: AdminFlags): { endpoint: string; token: string } {
  if (!flags.config) {
    if (!flags.tokenFile)
      throw new SidekeyError(
        'USAGE',
        "--token-file FILE (a file holding admin.token, mode 0600) or --config FILE (the daemon's config) is required",
      );
    return { endpoint: flags.endpoint ?? DEFAULT_ADMIN_ENDPOINT, token: tokenFromFile(flags.tokenFile) };
  }
  const { file, config } = loadConfig(flags.config);
  const endpoint = flags.endpoint ?? listenerUrl(adminListen(config), file);
  if (flags.tokenFile) return { endpoint, token: tokenFromFile(flags.tokenFile) };
  if (config.admin.token === undefined)
    throw new SidekeyError(
      'USAGE',
      `${file} has no admin.token, so the daemon's incident-response API is off: set admin.token: \${fromFile:FILE} (sidekey init creates FILE) and restart the daemon`,
    );
  return { endpoint, token: config.admin.token };
}

function serviceName(flags: AdminFlags): string {
  if (!flags.service) throw new SidekeyError('USAGE', '--service NAME is required');
  const problem = nameProblem(flags.service);
  if (problem) throw new SidekeyError('NAME_INVALID', `--service ${JSON.stringify(flags.service)} ${problem}`);
  return flags.service;
}

async function call(flags: AdminFlags, method: 'GET' | 'POST', path: string): Promise<Record<string, unknown>> {
  const { endpoint, token } = adminTarget(flags);
  let url: URL;
  try {
    url = new URL(path, endpoint);
  } catch {
    throw new SidekeyError('USAGE', `--endpoint ${JSON.stringify(endpoint)} is not a URL`);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS),
    });
  } catch (error) {
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
      .option('-c, --config <file>', "the daemon's config: its admin.listen and admin.token (the flags below win)")
      .option('--endpoint <url>', `the admin listener (default: ${DEFAULT_ADMIN_ENDPOINT}, or admin.listen with --config)`)
      .option('--token-file <file>', 'file holding the admin token (default with --config: admin.token)')
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

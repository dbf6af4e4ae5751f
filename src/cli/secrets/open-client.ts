/** Picks the client for a command's flags: --endpoint (a daemon) or --config (the store itself). */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { loadConfig } from '../../core/config/load-config.js';
import type { SecretsConfig } from '../../core/config/sections/secrets-section.js';
import type { SidekeyConfig } from '../../core/config/sidekey-config.js';
import { MAX_TOKEN_LENGTH } from '../../core/config/validators.js';
import { SidekeyError } from '../../core/errors.js';
import { createSecretService } from '../../core/secrets/create-secret-service.js';
import { checkName } from '../../core/secrets/secret-errors.js';
import { DirectClient, HttpClient, type SecretsClient } from './secrets-client.js';

export interface TargetFlags {
  readonly config: string;
  readonly endpoint?: string;
  /** exec and render only: read through a daemon's agent API instead. */
  readonly agent?: string;
  readonly tokenFile?: string;
  readonly applicationName?: string;
}

export interface LoadedSecrets {
  readonly secrets: SecretsConfig;
  readonly awsDefaults: SidekeyConfig['aws_defaults'];
  readonly file: string;
}

export function loadSecretsConfig(file: string): LoadedSecrets {
  const loaded = loadConfig(file);
  const secrets = loaded.config.secrets;
  if (!secrets)
    throw new SidekeyError(
      'USAGE',
      `${loaded.file} has no secrets section (docs/secrets.md shows one); or use --endpoint URL --token-file FILE`,
    );
  return { secrets, awsDefaults: loaded.config.aws_defaults, file: loaded.file };
}

/** Who a direct-mode write is recorded as. */
export function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid-${process.getuid?.() ?? 'unknown'}`;
  }
}

export function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SidekeyError('USAGE', `cannot read --token-file ${file} (${(error as NodeJS.ErrnoException).code})`, { cause: error });
  }
  const token = text.replace(/\r?\n$/, '');
  if (!/^[\x21-\x7e]+$/.test(token) || token.length > MAX_TOKEN_LENGTH) {
    throw new SidekeyError('USAGE', `--token-file ${file} must hold one token of printable characters`);
  }
  return token;
}

export function openClient(flags: TargetFlags, warn: (text: string) => void): SecretsClient {
  if (flags.endpoint !== undefined) {
    if (flags.tokenFile === undefined) throw new SidekeyError('USAGE', '--endpoint needs --token-file FILE (the bearer token)');
    if (!/^https?:\/\/[^/]+\/?$/.test(flags.endpoint))
      throw new SidekeyError('USAGE', `--endpoint must be http(s)://HOST:PORT, got ${flags.endpoint}`);
    if (flags.applicationName !== undefined)
      warn('sidekey: warning: with --endpoint the token decides the application; --application-name is ignored\n');
    return new HttpClient(flags.endpoint, readToken(flags.tokenFile));
  }
  if (flags.tokenFile !== undefined) throw new SidekeyError('USAGE', '--token-file goes with --endpoint URL');
  const { secrets, awsDefaults } = loadSecretsConfig(flags.config);
  const app = checkName(flags.applicationName ?? secrets.application, 'application name');
  // A one-shot command caches nothing: every fetch reads the store.
  const service = createSecretService({ secrets, awsDefaults, cacheTtlSeconds: 0 });
  return new DirectClient(service, app, cliActor());
}

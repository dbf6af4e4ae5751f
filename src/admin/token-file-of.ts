/**
 * Where a service's token is read from, so a rotated token can be written back: its
 * `auth_token_file`, or the file of an `auth_token: ${fromFile:...}` whose whole value came from
 * that file. A literal or `${fromEnv:...}` token has no file; the rotated token then lives in
 * memory only.
 */

import type { LoadedConfig } from '../core/config/load-config.js';
import { readRegularFile } from '../core/config/read-regular-file.js';
import { MAX_SUBSTITUTED_FILE_BYTES } from '../core/config/substitute.js';

export interface TokenFile {
  readonly file: string;
  /** The config key it belongs to, for messages. */
  readonly key: string;
}

export function tokenFileOf(loaded: LoadedConfig, service: string): TokenFile | undefined {
  const config = loaded.config.services[service];
  if (!config) return undefined;
  if (config.auth_token_file !== undefined) return { file: config.auth_token_file, key: `services.${service}.auth_token_file` };
  const key = `services.${service}.auth_token`;
  const records = loaded.substitutions.filter((r) => r.keyPath === key);
  const only = records.length === 1 ? records[0] : undefined;
  if (only?.source !== 'file') return undefined;
  try {
    // Only when the file is the whole value (not `prefix-${fromFile:...}`).
    const content = readRegularFile(only.ref, MAX_SUBSTITUTED_FILE_BYTES)
      .toString('utf8')
      .replace(/\r?\n$/, '');
    return content === config.auth_token ? { file: only.ref, key } : undefined;
  } catch {
    return undefined;
  }
}

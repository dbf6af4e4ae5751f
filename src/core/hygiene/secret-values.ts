/**
 * Every token and secret a config holds, with where its value came from (written literally,
 * `${fromEnv:...}` or `${fromFile:...}`), for the token and literal-secret checks. Values stay in
 * memory only; findings name key paths, never values.
 */

import type { LoadedConfig } from '../config/load-config.js';
import { FileRefused, readRegularFile } from '../config/read-regular-file.js';
import type { SourceCredentialsConfig } from '../config/sections/credentials-section.js';
import { MAX_SUBSTITUTED_FILE_BYTES } from '../config/substitute.js';

export interface SecretValue {
  /** Config key path, e.g. `services.web-app.auth_token`. */
  readonly path: string;
  /** Tokens are judged for strength and reuse; other secrets (keys, passwords) only for literals. */
  readonly kind: 'token' | 'secret';
  readonly source: 'literal' | 'env' | 'file';
  /** Undefined when the token file could not be read (then `readError` says why). */
  readonly value: string | undefined;
  /** Words the token must not contain: the name of what it belongs to. */
  readonly context: readonly string[];
  readonly readError?: string;
}

const IAM_KEY_SECRETS = ['aws_secret_access_key', 'secret_access_key', 'session_token', 'aws_session_token'] as const;

/** Reads a token file as the daemon does: one trailing newline is not part of the token. */
export function readTokenFile(file: string): string {
  return readRegularFile(file, MAX_SUBSTITUTED_FILE_BYTES)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export function collectSecretValues(loaded: LoadedConfig): SecretValue[] {
  const { config, substitutions } = loaded;
  const sourceOf = (path: string): SecretValue['source'] => {
    const records = substitutions.filter((r) => r.keyPath === path);
    if (records.length === 0) return 'literal';
    return records.some((r) => r.source === 'file') ? 'file' : 'env';
  };
  const out: SecretValue[] = [];
  const add = (path: string, kind: SecretValue['kind'], value: string | undefined, context: readonly string[] = []) => {
    if (value !== undefined) out.push({ path, kind, source: sourceOf(path), value, context });
  };
  const addKeys = (prefix: string, source: SourceCredentialsConfig | undefined) => {
    const keys = source?.iam_keys;
    if (!keys) return;
    for (const key of IAM_KEY_SECRETS) add(`${prefix}.iam_keys.${key}`, 'secret', keys[key]);
  };

  addKeys('aws_defaults', config.aws_defaults);
  for (const [name, service] of Object.entries(config.services)) {
    const prefix = `services.${name}`;
    add(`${prefix}.auth_token`, 'token', service.auth_token, [name]);
    if (service.auth_token_file !== undefined) {
      const path = `${prefix}.auth_token_file`;
      try {
        out.push({ path, kind: 'token', source: 'file', value: readTokenFile(service.auth_token_file), context: [name] });
      } catch (error) {
        const code = error instanceof FileRefused ? error.reason : 'read failed';
        out.push({
          path,
          kind: 'token',
          source: 'file',
          value: undefined,
          context: [name],
          readError: `cannot read ${service.auth_token_file} (${code})`,
        });
      }
    }
    addKeys(`${prefix}.source_credentials`, service.source_credentials);
  }
  add('admin.token', 'token', config.admin.token);
  for (const [i, t] of (config.secrets?.tokens ?? []).entries()) add(`secrets.tokens[${i}].token`, 'token', t.token, [t.id]);
  for (const [i, t] of (config.agent?.tokens ?? []).entries()) add(`agent.tokens[${i}].token`, 'token', t.token, [t.id]);
  if (config.secrets?.keyring.type === 'local') add('secrets.keyring.keys', 'secret', config.secrets.keyring.keys);
  for (const [name, target] of Object.entries(config.postgres?.targets ?? {})) {
    if (typeof target.auth === 'object') add(`postgres.targets.${name}.auth.password`, 'secret', target.auth.password);
    if (typeof target.client_auth === 'object') add(`postgres.targets.${name}.client_auth.password`, 'secret', target.client_auth.password);
  }
  return out;
}

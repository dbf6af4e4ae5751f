/**
 * Loads a config for hygiene tests from YAML text in a private temp dir: `/run/secrets/` paths
 * are moved into the dir and every token file the config names is created (random, mode 0600),
 * as `sidekey init` would.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LoadedConfig, parseConfig } from '../../src/core/config/load-config.js';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { tempDir } from '../helpers/temp-dir.js';

/** The repository root (tests run from .build/<name>/test/hygiene or dist/test/hygiene). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name === 'sidekey') return dir;
    } catch {
      // keep climbing
    }
    dir = dirname(dir);
  }
  throw new Error('cannot find the repository root');
}

export function readRepoFile(path: string): string {
  return readFileSync(join(repoRoot(), path), 'utf8');
}

export interface MaterializedConfig {
  readonly loaded: LoadedConfig;
  readonly dir: string;
  readonly file: string;
  readonly remove: () => void;
}

export interface MaterializeOptions {
  /** Contents for named secret files (by base name); others get a random token. */
  readonly files?: Record<string, string>;
  /** Mode for created files (default 0600). */
  readonly mode?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export function materialize(yaml: string, options: MaterializeOptions = {}): MaterializedConfig {
  const dir = tempDir('sidekey-hygiene-');
  const secrets = join(dir.path, 'secrets');
  mkdirSync(secrets, { mode: 0o700 });
  const text = yaml.replaceAll('/run/secrets/', `${secrets}/`).replaceAll('/var/lib/sidekey/', `${dir.path}/state/`);
  const names = new Set<string>();
  for (const match of text.matchAll(new RegExp(`${secrets.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([\\w.-]+)`, 'g')))
    names.add(match[1] as string);
  for (const name of names) {
    const file = join(secrets, name);
    writeFileSync(file, options.files?.[name] ?? randomToken(), { mode: 0o600 });
    chmodSync(file, options.mode ?? 0o600);
  }
  const file = join(dir.path, 'sidekey.yaml');
  writeFileSync(file, text);
  const loaded = parseConfig(text, file, { env: options.env ?? {} });
  return { loaded, dir: dir.path, file, remove: dir.remove };
}

export function materializeExample(name: string, options: MaterializeOptions = {}): MaterializedConfig {
  return materialize(readRepoFile(join('examples', name)), options);
}

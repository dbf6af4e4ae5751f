/**
 * `sidekey init`: creates every missing token file the config refers to with `${fromFile:...}`
 * (random tokens, mode 0600, directories 0700), so the shipped example runs with no literal
 * secrets in it. Existing files are never touched.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Command } from 'commander';
import { parseConfigYaml, readConfigText } from '../../core/config/load-config.js';
import { randomToken } from '../../core/crypto/random-token.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';

/** Keys whose `${fromFile:...}` file init may create: they hold tokens it can generate. */
const TOKEN_KEYS = new Set(['token', 'auth_token']);
const SECRET_FILE_MODE = 0o600;
const SECRET_DIR_MODE = 0o700;

function tokenFiles(tree: unknown, baseDir: string, key = '', out: string[] = []): string[] {
  if (typeof tree === 'string') {
    const match = /^\$\{fromFile:([^${}]+)\}$/.exec(tree);
    if (match && TOKEN_KEYS.has(key)) {
      const path = match[1] as string;
      out.push(isAbsolute(path) ? path : resolve(baseDir, path));
    }
  } else if (Array.isArray(tree)) {
    for (const item of tree) tokenFiles(item, baseDir, key, out);
  } else if (tree && typeof tree === 'object') {
    for (const [k, v] of Object.entries(tree)) tokenFiles(v, baseDir, k, out);
  }
  return out;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create the token files the config refers to but which do not exist yet (0600)')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .action((options: { config: string }) => {
      const file = resolve(options.config);
      const { tree } = parseConfigYaml(readConfigText(file), file);
      for (const path of tokenFiles(tree, dirname(file))) {
        if (existsSync(path)) continue;
        mkdirSync(dirname(path), { recursive: true, mode: SECRET_DIR_MODE });
        // No line ending: the same file may be an application's AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (see token.ts).
        writeFileSync(path, randomToken(), { mode: SECRET_FILE_MODE, flag: 'wx' });
        process.stderr.write(`sidekey init: created ${path} (mode 0600)\n`);
      }
    });
}

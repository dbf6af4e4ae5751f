/**
 * `${fromEnv:NAME}` and `${fromFile:/path}` substitution in every string value of a config tree,
 * as CredProxy does, with nesting (`${fromFile:${fromEnv:SECRETS_DIR}/token}`) to a fixed depth.
 * A value produced by a substitution is never scanned again, so a file cannot inject another
 * reference. `$${` stands for a literal `${`.
 */
import { realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { SidekeyError } from '../errors.js';
import { FileRefused, readRegularFile } from './read-regular-file.js';
import { joinPath } from './schema.js';

/** How deeply references may nest inside each other. */
export const MAX_SUBSTITUTION_DEPTH = 4;
/** The largest file a `${fromFile:...}` may read (a token, a key, a certificate bundle). */
export const MAX_SUBSTITUTED_FILE_BYTES = 1024 * 1024; // 1 MiB

export interface SubstitutionRecord {
  /** Key path of the value that contained the reference. */
  readonly keyPath: string;
  readonly source: 'env' | 'file';
  /** Environment variable name, or the resolved absolute file path. */
  readonly ref: string;
}

export interface SubstitutionOptions {
  /** Relative `${fromFile:...}` paths resolve against this directory (the config file's). */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  /** Collected references, for `sidekey check` (file permissions, literal secrets). */
  records?: SubstitutionRecord[];
  /**
   * For a less-trusted writer (a dynamic service file): `${fromEnv:}` is refused (the daemon's
   * environment holds its own secrets), and `${fromFile:}` may only read files under these
   * directories, symlinks resolved. Undefined: the main config, which may read anything.
   */
  restricted?: { readonly fileRoots: readonly string[]; readonly why: string };
}

interface Cursor {
  text: string;
  pos: number;
}

function substitutionError(keyPath: string, message: string, cause?: unknown): SidekeyError {
  return new SidekeyError('CONFIG_SUBSTITUTION', `${keyPath || '(root)'}: ${message}`, {
    cause,
    details: { keyPath },
  });
}

function trimOneNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

/** Whether `file`, symlinks resolved, lies inside one of `roots` (also resolved). */
export function isUnder(file: string, roots: readonly string[]): boolean {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    return false;
  }
  return roots.some((root) => {
    let base: string;
    try {
      base = realpathSync(root);
    } catch {
      return false;
    }
    return real === base || real.startsWith(base.endsWith(sep) ? base : base + sep);
  });
}

function resolveReference(kind: string, arg: string, keyPath: string, options: SubstitutionOptions): string {
  const restricted = options.restricted;
  if (kind === 'fromEnv' && restricted) {
    throw substitutionError(keyPath, `\${fromEnv:...} is not allowed ${restricted.why}: the daemon's environment is not theirs to read`);
  }
  if (kind === 'fromEnv') {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(arg)) {
      throw substitutionError(keyPath, `\${fromEnv:${arg}} is not a valid environment variable name`);
    }
    const value = (options.env ?? process.env)[arg];
    if (value === undefined) throw substitutionError(keyPath, `environment variable ${arg} is not set (\${fromEnv:${arg}})`);
    options.records?.push({ keyPath, source: 'env', ref: arg });
    return value;
  }
  if (arg === '') throw substitutionError(keyPath, '${fromFile:} needs a path');
  const file = isAbsolute(arg) ? arg : resolve(options.baseDir, arg);
  if (restricted && !isUnder(file, restricted.fileRoots)) {
    throw substitutionError(
      keyPath,
      `\${fromFile:${file}} is outside the directories allowed ${restricted.why} (${restricted.fileRoots.join(', ')})`,
    );
  }
  let content: Buffer;
  try {
    content = readRegularFile(file, MAX_SUBSTITUTED_FILE_BYTES);
  } catch (error) {
    const reason = error instanceof FileRefused ? error.reason : 'read failed';
    throw substitutionError(keyPath, `cannot read ${file} for \${fromFile:...} (${reason})`, error);
  }
  options.records?.push({ keyPath, source: 'file', ref: file });
  return trimOneNewline(content.toString('utf8'));
}

/** Parses text up to `}` (when nested) or the end, resolving references as it goes. */
function expand(cursor: Cursor, depth: number, nested: boolean, keyPath: string, options: SubstitutionOptions): string {
  let out = '';
  while (cursor.pos < cursor.text.length) {
    const rest = cursor.text.slice(cursor.pos);
    if (rest.startsWith('$${')) {
      out += '${';
      cursor.pos += 3;
      continue;
    }
    const match = /^\$\{(fromEnv|fromFile):/.exec(rest);
    if (match) {
      if (depth >= MAX_SUBSTITUTION_DEPTH) {
        throw substitutionError(keyPath, `references nest deeper than ${MAX_SUBSTITUTION_DEPTH} levels`);
      }
      cursor.pos += match[0].length;
      const arg = expand(cursor, depth + 1, true, keyPath, options);
      out += resolveReference(match[1] as string, arg, keyPath, options);
      continue;
    }
    if (rest.startsWith('${')) {
      const name = /^\$\{([^:}]*)/.exec(rest)?.[1] ?? '';
      throw substitutionError(
        keyPath,
        `unknown reference \${${name}...}: use \${fromEnv:NAME} or \${fromFile:/path}, or $\${ for a literal`,
      );
    }
    const ch = cursor.text[cursor.pos] as string;
    if (nested && ch === '}') {
      cursor.pos += 1;
      return out;
    }
    out += ch;
    cursor.pos += 1;
  }
  if (nested) throw substitutionError(keyPath, 'a ${fromEnv:...} or ${fromFile:...} reference is missing its closing }');
  return out;
}

export function substituteString(text: string, keyPath: string, options: SubstitutionOptions): string {
  if (!text.includes('${')) return text;
  return expand({ text, pos: 0 }, 0, false, keyPath, options);
}

/**
 * Returns a copy of `tree` with every string value substituted. Every failure is collected, so
 * `sidekey validate` can print them all at once.
 */
export function substituteTree(tree: unknown, options: SubstitutionOptions, errors: SidekeyError[], keyPath = ''): unknown {
  if (typeof tree === 'string') {
    try {
      return substituteString(tree, keyPath, options);
    } catch (error) {
      if (error instanceof SidekeyError) {
        errors.push(error);
        return tree;
      }
      throw error;
    }
  }
  if (Array.isArray(tree)) return tree.map((item, index) => substituteTree(item, options, errors, joinPath(keyPath, index)));
  if (tree && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(tree)) out[key] = substituteTree(value, options, errors, joinPath(keyPath, key));
    return out;
  }
  return tree;
}

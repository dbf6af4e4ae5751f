/**
 * `dynamic_services`: directories of YAML service files (`services: {...}`, the same schema as the
 * main config) picked up at run time. A file that fails to parse or validate is reported once per
 * change, naming the file and key; its last good version stays in force and other files are
 * unaffected. A removed file removes its services.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { MAX_YAML_ALIASES } from '../config/load-config.js';
import { obj } from '../config/mapping-schemas.js';
import { validate } from '../config/schema.js';
import { type ServiceConfig, servicesSchema } from '../config/sections/credentials-section.js';
import type { SidekeyConfig } from '../config/sidekey-config.js';
import { substituteTree } from '../config/substitute.js';
import { SidekeyError } from '../errors.js';

/** The largest service file read. */
export const MAX_SERVICE_FILE_BYTES = 256 * 1024; // 256 KiB
/** The most files read from one directory per scan. */
export const MAX_FILES_PER_DIRECTORY = 1000;

type DynamicServicesConfig = SidekeyConfig['dynamic_services'];

export const serviceFileSchema = obj({ services: servicesSchema }, { ignorePrefix: 'x-' });

export interface DynamicService {
  readonly config: ServiceConfig;
  readonly file: string;
}

interface FileState {
  /** Digest of the content last seen, good or bad. */
  readonly seen: string;
  /** Services of the last version that validated. */
  readonly good: Readonly<Record<string, ServiceConfig>> | undefined;
}

/** A glob over file names: `*` any run of characters, `?` one; nothing else is special. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Parses one service file; throws a CONFIG_INVALID error whose message names the file and every key at fault. */
export function parseServiceFile(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<Record<string, ServiceConfig>> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = doc.errors.map((e) => {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]}`;
  });
  if (problems.length === 0) {
    const raw: unknown = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
    const errors: SidekeyError[] = [];
    const substituted = substituteTree(raw, { baseDir: dirname(file), env }, errors);
    problems.push(...errors.map((e) => e.message));
    const result = validate(serviceFileSchema, substituted, dirname(file));
    if (!result.ok) problems.push(...result.issues.map((issue) => `${issue.path}: ${issue.message}`));
    else if (problems.length === 0) return result.value.services;
  }
  throw new SidekeyError('CONFIG_INVALID', `${file}: ${problems.join('; ')}`, { details: { file } });
}

export class DynamicServiceFiles {
  readonly #files = new Map<string, FileState>();
  readonly #reportedDirs = new Map<string, string>();
  readonly #reportedConflicts = new Set<string>();
  readonly #onError: (message: string, file: string) => void;
  readonly #env: NodeJS.ProcessEnv;

  constructor(onError: (message: string, file: string) => void, env: NodeJS.ProcessEnv = process.env) {
    this.#onError = onError;
    this.#env = env;
  }

  /** Reads every directory and returns the services defined there, minus names taken by `reserved`. */
  scan(section: DynamicServicesConfig, reserved: ReadonlySet<string>): Map<string, DynamicService> {
    const out = new Map<string, DynamicService>();
    if (!section.enabled) {
      this.#files.clear();
      return out;
    }
    const present = new Set<string>();
    for (const directory of section.directories) {
      const include = directory.include_patterns.map(globToRegExp);
      const exclude = directory.exclude_patterns.map(globToRegExp);
      for (const file of this.#list(directory.path)) {
        const base = file.slice(directory.path.length + 1);
        if (!include.some((r) => r.test(base)) || exclude.some((r) => r.test(base))) continue;
        if (present.has(file)) continue;
        present.add(file);
        const services = this.#read(file);
        for (const [name, config] of Object.entries(services ?? {})) {
          const owner = reserved.has(name) ? 'the main config' : out.get(name)?.file;
          if (owner) {
            this.#conflict(file, name, owner);
            continue;
          }
          out.set(name, { config, file });
        }
      }
    }
    for (const file of this.#files.keys()) if (!present.has(file)) this.#files.delete(file);
    return out;
  }

  #list(directory: string): string[] {
    try {
      const names = readdirSync(directory).sort().slice(0, MAX_FILES_PER_DIRECTORY);
      this.#reportedDirs.delete(directory);
      return names
        .map((name) => join(directory, name))
        .filter((path) => {
          try {
            return statSync(path).isFile();
          } catch {
            return false;
          }
        });
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'read failed';
      if (this.#reportedDirs.get(directory) !== reason) {
        this.#reportedDirs.set(directory, reason);
        this.#onError(`dynamic_services: cannot read directory ${directory} (${reason})`, directory);
      }
      return [];
    }
  }

  #read(file: string): Readonly<Record<string, ServiceConfig>> | undefined {
    const previous = this.#files.get(file);
    let text: string;
    try {
      const content = readFileSync(file);
      if (content.length > MAX_SERVICE_FILE_BYTES) throw new Error(`larger than ${MAX_SERVICE_FILE_BYTES} bytes`);
      text = content.toString('utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const seen = `unreadable:${reason}`;
      if (previous?.seen !== seen) this.#onError(`${file}: cannot read service file (${reason})`, file);
      this.#files.set(file, { seen, good: previous?.good });
      return previous?.good;
    }
    const seen = createHash('sha256').update(text).digest('base64url');
    if (previous?.seen === seen) return previous.good;
    try {
      const good = parseServiceFile(text, file, this.#env);
      this.#files.set(file, { seen, good });
      return good;
    } catch (error) {
      this.#onError(error instanceof Error ? error.message : String(error), file);
      this.#files.set(file, { seen, good: previous?.good });
      return previous?.good;
    }
  }

  #conflict(file: string, name: string, owner: string): void {
    const key = `${file}\0${name}\0${owner}`;
    if (this.#reportedConflicts.has(key)) return;
    this.#reportedConflicts.add(key);
    this.#onError(`${file}: services.${name}: a service named "${name}" is already defined in ${owner}; this one is ignored`, file);
  }
}

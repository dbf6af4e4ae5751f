/**
 * `dynamic_services`: directories of YAML service files (`services: {...}`) picked up at run time.
 * Whoever may write such a file is trusted less than the main config, so a file may set only a
 * service's name, token, role and session fields: the role must match `allowed_role_arns`, a token
 * file and `${fromFile:}` must lie under `token_directories` (default: the file's own directory),
 * and base credentials, profiles and `${fromEnv:}` are refused. A file that fails to parse or
 * validate is reported once per change, naming the file and key; its last good version stays in
 * force and other files are unaffected. A removed file removes its services.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { MAX_YAML_ALIASES } from '../config/load-config.js';
import { obj } from '../config/mapping-schemas.js';
import { FileRefused, readRegularFile } from '../config/read-regular-file.js';
import { validate } from '../config/schema.js';
import { dynamicServicesRecordSchema, type ServiceConfig } from '../config/sections/credentials-section.js';
import type { SidekeyConfig } from '../config/sidekey-config.js';
import { isUnder, type SubstitutionRecord, substituteTree } from '../config/substitute.js';
import { SidekeyError } from '../errors.js';

/** The largest service file read. */
export const MAX_SERVICE_FILE_BYTES = 256 * 1024; // 256 KiB
/** The most files read from one directory per scan. */
export const MAX_FILES_PER_DIRECTORY = 1000;

type DynamicServicesConfig = SidekeyConfig['dynamic_services'];

export const serviceFileSchema = obj({ services: dynamicServicesRecordSchema }, { ignorePrefix: 'x-' });

/** What the main config lets a service file do. */
export interface ServiceFilePolicy {
  /** Role ARN patterns (`*`: any run of characters). */
  readonly allowedRoleArns: readonly string[];
  /** Directories token files and `${fromFile:}` may read from; undefined: the service file's own. */
  readonly tokenDirectories: readonly string[] | undefined;
}

export interface DynamicService {
  readonly config: ServiceConfig;
  readonly file: string;
  /** Where this service's token file must stay (checked again at every read). */
  readonly fileRoots: readonly string[];
}

interface FileState {
  /** Digest of the content last seen, good or bad. */
  readonly seen: string;
  /** Services of the last version that validated. */
  readonly good: Readonly<Record<string, ServiceConfig>> | undefined;
}

/** A glob: `*` any run of characters, `?` one; nothing else is special. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function policyOf(section: DynamicServicesConfig): ServiceFilePolicy {
  return { allowedRoleArns: section.allowed_role_arns, tokenDirectories: section.token_directories };
}

/**
 * Parses one service file under `policy`; throws a CONFIG_INVALID error whose message names the
 * file and every key at fault, and never shows a value read through `${fromFile:}`.
 */
export function parseServiceFile(text: string, file: string, policy: ServiceFilePolicy): Readonly<Record<string, ServiceConfig>> {
  const fileRoots = policy.tokenDirectories ?? [dirname(file)];
  const where = `in a dynamic service file (${file})`;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: string[] = doc.errors.map((e) => {
    const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
    return `${pos ? `line ${pos.line}, column ${pos.col}: ` : ''}${e.message.split('\n')[0]}`;
  });
  let raw: unknown = {};
  try {
    if (problems.length === 0) raw = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
  } catch (error) {
    // toJS refuses an alias bomb (more than MAX_YAML_ALIASES aliases).
    problems.push((error as Error).message);
  }
  if (problems.length === 0) {
    const errors: SidekeyError[] = [];
    const records: SubstitutionRecord[] = [];
    const substituted = substituteTree(
      raw,
      { baseDir: dirname(file), env: {}, records, restricted: { fileRoots, why: 'in a dynamic service file' } },
      errors,
    );
    problems.push(...errors.map((e) => e.message));
    const concealed = new Set(records.map((r) => r.keyPath));
    const result = validate(serviceFileSchema, substituted, dirname(file), concealed);
    if (!result.ok) problems.push(...result.issues.map((issue) => `${issue.path}: ${issue.message}`));
    else {
      const roles = policy.allowedRoleArns.map(globToRegExp);
      for (const [name, service] of Object.entries(result.value.services)) {
        const arn = service.assumed_role.RoleArn;
        const arnPath = `services.${name}.assumed_role.RoleArn`;
        if (!roles.some((r) => r.test(arn)))
          problems.push(
            `${arnPath}: ${concealed.has(arnPath) ? 'the role' : arn} is not allowed ${where}: it must match dynamic_services.allowed_role_arns (${policy.allowedRoleArns.join(', ') || 'none listed'})`,
          );
        const tokenFile = service.auth_token_file;
        if (tokenFile !== undefined && !isUnder(tokenFile, fileRoots))
          problems.push(
            `services.${name}.auth_token_file: ${tokenFile} is not allowed ${where}: it must be under ${fileRoots.join(', ')} (dynamic_services.token_directories)`,
          );
      }
      if (problems.length === 0) return result.value.services;
    }
  }
  throw new SidekeyError('CONFIG_INVALID', `${file}: ${problems.join('; ')}`, { details: { file } });
}

export class DynamicServiceFiles {
  readonly #files = new Map<string, FileState>();
  readonly #reportedDirs = new Map<string, string>();
  readonly #reportedConflicts = new Set<string>();
  readonly #onError: (message: string, file: string) => void;
  /** The policy the cached parses were made under: a changed policy parses every file again. */
  #policyKey = '';

  constructor(onError: (message: string, file: string) => void) {
    this.#onError = onError;
  }

  /** Reads every directory and returns the services defined there, minus names taken by `reserved`. */
  scan(section: DynamicServicesConfig, reserved: ReadonlySet<string>): Map<string, DynamicService> {
    const out = new Map<string, DynamicService>();
    if (!section.enabled) {
      this.#files.clear();
      return out;
    }
    const policy = policyOf(section);
    const policyKey = JSON.stringify(policy);
    if (policyKey !== this.#policyKey) {
      this.#files.clear();
      this.#policyKey = policyKey;
    }
    const fileRootsOf = (file: string) => policy.tokenDirectories ?? [dirname(file)];
    const present = new Set<string>();
    for (const directory of section.directories) {
      const include = directory.include_patterns.map(globToRegExp);
      const exclude = directory.exclude_patterns.map(globToRegExp);
      for (const file of this.#list(directory.path)) {
        const base = file.slice(directory.path.length + 1);
        if (!include.some((r) => r.test(base)) || exclude.some((r) => r.test(base))) continue;
        if (present.has(file)) continue;
        present.add(file);
        const services = this.#read(file, policy);
        for (const [name, config] of Object.entries(services ?? {})) {
          const owner = reserved.has(name) ? 'the main config' : out.get(name)?.file;
          if (owner) {
            this.#conflict(file, name, owner);
            continue;
          }
          out.set(name, { config, file, fileRoots: fileRootsOf(file) });
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

  #read(file: string, policy: ServiceFilePolicy): Readonly<Record<string, ServiceConfig>> | undefined {
    const previous = this.#files.get(file);
    let text: string;
    try {
      text = readRegularFile(file, MAX_SERVICE_FILE_BYTES).toString('utf8');
    } catch (error) {
      const reason = error instanceof FileRefused ? error.reason : 'read failed';
      const seen = `unreadable:${reason}`;
      if (previous?.seen !== seen) this.#onError(`${file}: cannot read service file (${reason})`, file);
      this.#files.set(file, { seen, good: previous?.good });
      return previous?.good;
    }
    const seen = createHash('sha256').update(text).digest('base64url');
    if (previous?.seen === seen) return previous.good;
    try {
      const good = parseServiceFile(text, file, policy);
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

/**
 * Reads the config file: YAML, then `${fromEnv:}`/`${fromFile:}` substitution, then the strict
 * schema, then freezing. Every problem is collected, so one run of `sidekey validate` lists all.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Document, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { SidekeyError } from '../errors.js';
import { deepFreeze, validate } from './schema.js';
import { type SidekeyConfig, sidekeyConfigSchema } from './sidekey-config.js';
import { type SubstitutionRecord, substituteTree } from './substitute.js';

/** The largest config file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024; // 1 MiB
/** YAML aliases allowed in one file (guards against alias bombs). */
export const MAX_YAML_ALIASES = 100;

export interface LoadedConfig {
  /** Absolute path of the file read. */
  readonly file: string;
  readonly config: SidekeyConfig;
  /** Which keys came from `${fromEnv:}`/`${fromFile:}`, for `sidekey check`. */
  readonly substitutions: readonly SubstitutionRecord[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
}

/** Thrown when a config cannot be used; `problems` holds every message, each naming file and key. */
export class ConfigError extends SidekeyError {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[]) {
    super('CONFIG_INVALID', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, {
      details: { file },
    });
    this.problems = problems;
  }
}

function splitPath(path: string): (string | number)[] {
  const segments: (string | number)[] = [];
  for (const part of path.split('.')) {
    const match = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      segments.push(part);
      continue;
    }
    if (match[1]) segments.push(match[1]);
    for (const index of (match[2] ?? '').matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

/** Where a key path sits in the document: the key itself for mappings, the item for lists. */
function keyRange(doc: Document, segments: (string | number)[]): readonly number[] | undefined {
  const last = segments.at(-1);
  const parent = segments.length === 1 ? doc.contents : doc.getIn(segments.slice(0, -1), true);
  if (isMap(parent)) {
    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
    if (pair && isScalar(pair.key)) return pair.key.range ?? undefined;
  }
  if (isSeq(parent) && typeof last === 'number') return (parent.items[last] as { range?: number[] } | undefined)?.range;
  return undefined;
}

/** A config file's YAML, parsed: its document (for key positions) and its plain tree. */
export interface ConfigYaml {
  readonly doc: Document;
  readonly lineCounter: LineCounter;
  readonly tree: unknown;
}

/** The YAML of a config file (`file` is absolute, for messages); ConfigError with line and column for a syntax error. */
export function parseConfigYaml(text: string, file: string): ConfigYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `line ${pos.line}, column ${pos.col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  try {
    return { doc, lineCounter, tree: doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {} };
  } catch (error) {
    // toJS refuses an alias bomb (more than MAX_YAML_ALIASES aliases) and the like.
    throw new ConfigError(file, [(error as Error).message]);
  }
}

/** Parses config text; `file` is used in messages and to resolve relative paths. */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): LoadedConfig {
  const absolute = resolve(file);
  const { doc, lineCounter, tree: raw } = parseConfigYaml(text, absolute);
  const where = (path: string) => {
    const range = path === '(root)' ? undefined : keyRange(doc, splitPath(path));
    return range?.[0] === undefined ? '' : `line ${lineCounter.linePos(range[0]).line}: `;
  };

  const substitutionErrors: SidekeyError[] = [];
  const substitutions: SubstitutionRecord[] = [];
  const env = options.env ?? process.env;
  const substituted = substituteTree(raw, { baseDir: dirname(absolute), env, records: substitutions }, substitutionErrors);
  const problems = substitutionErrors.map((e) => {
    const keyPath = String(e.details?.keyPath ?? '');
    return `${where(keyPath)}${e.message}`;
  });
  // Validate even when substitution failed, so every problem shows in one pass.
  const concealed = new Set(substitutions.map((record) => record.keyPath));
  const result = validate(sidekeyConfigSchema, substituted, dirname(absolute), concealed);
  if (!result.ok) {
    const failedKeys = new Set(substitutionErrors.map((e) => String(e.details?.keyPath ?? '')));
    for (const issue of result.issues) {
      if (failedKeys.has(issue.path)) continue; // already reported as a substitution failure
      problems.push(`${where(issue.path)}${issue.path}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.ok) throw new ConfigError(absolute, problems);
  return deepFreeze({ file: absolute, config: result.value, substitutions });
}

/** A config file's text (`absolute` is its absolute path); CONFIG_UNREADABLE, or ConfigError past MAX_CONFIG_BYTES. */
export function readConfigText(absolute: string): string {
  try {
    const buffer = readFileSync(absolute);
    if (buffer.length > MAX_CONFIG_BYTES) throw new ConfigError(absolute, [`the file is larger than ${MAX_CONFIG_BYTES} bytes`]);
    return buffer.toString('utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? 'read failed';
    throw new SidekeyError('CONFIG_UNREADABLE', `cannot read config file ${absolute} (${code})`, {
      cause: error,
      details: { file: absolute },
    });
  }
}

export function loadConfig(file: string, options: LoadOptions = {}): LoadedConfig {
  const absolute = resolve(file);
  return parseConfig(readConfigText(absolute), absolute, options);
}

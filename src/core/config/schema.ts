/**
 * A small strict schema library for the config file. It exists (rather than a general validator)
 * so that every message names the key path and what was expected, unknown keys get a
 * "did you mean" hint, renamed keys get a migration hint, and values marked secret are never
 * echoed back in a message.
 */
import { isAbsolute, resolve } from 'node:path';
import { suggest } from './did-you-mean.js';

export interface Issue {
  /** Dotted key path, e.g. `services.web-app.assumed_role.RoleArn`; `(root)` for the top. */
  readonly path: string;
  readonly message: string;
}

const INVALID: unique symbol = Symbol('invalid');
type Invalid = typeof INVALID;

export { INVALID };

export interface Schema<T> {
  /** Human description of what is expected, used in messages ("a port from 1 to 65535"). */
  readonly expected: string;
  /** True when the value never appears in a message. */
  readonly secret: boolean;
  /** Undefined input is accepted (and yields the default when there is one). */
  readonly optional: boolean;
  parse(value: unknown, path: string, ctx: ParseContext): T | Invalid;
}

/** What a parse carries along: the issues found so far and where relative paths resolve. */
export interface ParseContext {
  readonly issues: Issue[];
  /** Directory of the config file; relative file paths resolve against it. */
  readonly baseDir: string;
  /**
   * Key paths whose value came from `${fromFile:}` or `${fromEnv:}`: never echoed, since the
   * file or variable may hold a secret whatever the key is (a token put into a name).
   */
  readonly concealed?: ReadonlySet<string>;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** The largest excerpt of a rejected value echoed back in a message. */
const MAX_ECHO_CHARS = 60;

/** `scheme://user:password@host` -> `scheme://(credentials not shown)@host`, wherever it appears. */
function withoutUserinfo(text: string): string {
  return text.replace(/\/\/[^/?#@\s]*@/g, '//(credentials not shown)@');
}

export function describeValue(value: unknown, secret: boolean | 'substituted'): string {
  if (secret === 'substituted') return 'a value (not shown: it came from ${fromFile:} or ${fromEnv:})';
  if (secret) return 'a value (not shown: it is secret)';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    const clean = withoutUserinfo(value);
    const text = clean.length > MAX_ECHO_CHARS ? `${clean.slice(0, MAX_ECHO_CHARS)}...` : clean;
    return JSON.stringify(text);
  }
  return String(value);
}

/** How a message shows the value at `path`: as describeValue does, concealed when it was substituted. */
export function shown(ctx: ParseContext, path: string, value: unknown, secret: boolean): string {
  return describeValue(value, !secret && ctx.concealed?.has(path) ? 'substituted' : secret);
}

/** Records an issue and returns INVALID (for schema modules). */
export function fail(ctx: ParseContext, path: string, message: string): Invalid {
  ctx.issues.push({ path: path || '(root)', message });
  return INVALID;
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/** Builds a schema from its description and parse function (for schema modules). */
export function make<T>(expected: string, parse: Schema<T>['parse'], secret = false): Schema<T> {
  return { expected, secret, optional: false, parse };
}

export interface StringOptions {
  min?: number;
  max?: number;
  pattern?: RegExp;
  /** Replaces the generic description, e.g. "a service name (lowercase letters, digits, hyphens)". */
  expected?: string;
  secret?: boolean;
  /** Further checks; return a message to reject. */
  check?: (value: string) => string | undefined;
}

export function str(options: StringOptions = {}): Schema<string> {
  const { min = 0, max, pattern, secret = false, check } = options;
  const expected =
    options.expected ??
    (max !== undefined ? `a string of ${min} to ${max} characters` : min > 0 ? `a string of at least ${min} characters` : 'a string');
  return make<string>(
    expected,
    (value, path, ctx) => {
      if (typeof value !== 'string') return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, secret)}`);
      if (value.length < min) {
        return fail(ctx, path, `must be at least ${min} characters long (it has ${value.length})`);
      }
      if (max !== undefined && value.length > max) {
        return fail(ctx, path, `must be at most ${max} characters long (it has ${value.length})`);
      }
      if (pattern && !pattern.test(value)) return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, secret)}`);
      const problem = check?.(value);
      if (problem) return fail(ctx, path, secret ? problem : `${problem}, got ${shown(ctx, path, value, false)}`);
      return value;
    },
    secret,
  );
}

export interface IntOptions {
  min?: number;
  max?: number;
  /** Unit named in messages, e.g. "seconds". */
  unit?: string;
}

export function int(options: IntOptions = {}): Schema<number> {
  const { min, max, unit } = options;
  const range =
    min !== undefined && max !== undefined
      ? ` from ${min} to ${max}`
      : min !== undefined
        ? ` of at least ${min}`
        : max !== undefined
          ? ` of at most ${max}`
          : '';
  const expected = `an integer${range}${unit ? ` (${unit})` : ''}`;
  return make<number>(expected, (value, path, ctx) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, false)}`);
    }
    if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
      return fail(ctx, path, `expected ${expected}, got ${value}`);
    }
    return value;
  });
}

export function bool(): Schema<boolean> {
  return make<boolean>('true or false', (value, path, ctx) =>
    typeof value === 'boolean' ? value : fail(ctx, path, `expected true or false, got ${shown(ctx, path, value, false)}`),
  );
}

export function oneOf<const V extends string>(values: readonly V[]): Schema<V> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return make<V>(expected, (value, path, ctx) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as V;
    const hint = typeof value === 'string' ? suggest(value, values) : undefined;
    return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, false)}${hint ? ` (did you mean "${hint}"?)` : ''}`);
  });
}

export interface ArrayOptions {
  min?: number;
  max?: number;
}

export function arr<T>(item: Schema<T>, options: ArrayOptions = {}): Schema<readonly T[]> {
  const { min = 0, max } = options;
  const expected = `a list of ${item.expected}`;
  return make<readonly T[]>(expected, (value, path, ctx) => {
    if (!Array.isArray(value)) return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, item.secret)}`);
    if (value.length < min) return fail(ctx, path, `must have at least ${min} entr${min === 1 ? 'y' : 'ies'}`);
    if (max !== undefined && value.length > max) return fail(ctx, path, `must have at most ${max} entries (it has ${value.length})`);
    const out: T[] = [];
    let ok = true;
    value.forEach((element, index) => {
      const parsed = item.parse(element, joinPath(path, index), ctx);
      if (parsed === INVALID) ok = false;
      else out.push(parsed);
    });
    return ok ? out : INVALID;
  });
}

/** Makes undefined (a missing key) acceptable; the result is `T | undefined`. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return {
    expected: schema.expected,
    secret: schema.secret,
    optional: true,
    parse: (value, path, ctx) => (value === undefined || value === null ? undefined : schema.parse(value, path, ctx)),
  };
}

/** A missing key takes `fallback`. */
export function withDefault<T>(schema: Schema<T>, fallback: T): Schema<T> {
  return {
    expected: schema.expected,
    secret: schema.secret,
    optional: true,
    parse: (value, path, ctx) => (value === undefined || value === null ? fallback : schema.parse(value, path, ctx)),
  };
}

/** Runs `check` on a valid value; a returned string rejects it with that message. */
export function refine<T>(schema: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    ...schema,
    parse: (value, path, ctx) => {
      const parsed = schema.parse(value, path, ctx);
      if (parsed === INVALID) return INVALID;
      const problem = check(parsed);
      return problem ? fail(ctx, path, problem) : parsed;
    },
  };
}

/** Maps a valid value to another shape (e.g. a listen string to an address object). */
export function transform<T, U>(schema: Schema<T>, map: (value: T) => U): Schema<U> {
  return {
    expected: schema.expected,
    secret: schema.secret,
    optional: schema.optional,
    parse: (value, path, ctx) => {
      const parsed = schema.parse(value, path, ctx);
      return parsed === INVALID ? INVALID : map(parsed);
    },
  };
}

/** Tries each alternative in order; the first that accepts wins. */
export function anyOf<A, B>(expected: string, a: Schema<A>, b: Schema<B>): Schema<A | B> {
  return make<A | B>(expected, (value, path, ctx) => {
    const first: Issue[] = [];
    const parsedA = a.parse(value, path, { ...ctx, issues: first });
    if (parsedA !== INVALID) return parsedA;
    const second: Issue[] = [];
    const parsedB = b.parse(value, path, { ...ctx, issues: second });
    if (parsedB !== INVALID) return parsedB;
    // Report the alternative that got further: the one whose issues sit deeper in the value.
    const depth = (list: Issue[]) => Math.max(0, ...list.map((i) => i.path.length));
    const best = depth(second) > depth(first) ? second : first;
    if (best.every((i) => i.path === (path || '(root)'))) return fail(ctx, path, `expected ${expected}`);
    ctx.issues.push(...best);
    return INVALID;
  });
}

/** Runs a schema over a whole document; returns the value or every issue found. */
export function validate<T>(
  schema: Schema<T>,
  value: unknown,
  baseDir: string = process.cwd(),
  concealed?: ReadonlySet<string>,
): { ok: true; value: T } | { ok: false; issues: Issue[] } {
  const issues: Issue[] = [];
  const parsed = schema.parse(value, '', { issues, baseDir, ...(concealed ? { concealed } : {}) });
  if (parsed === INVALID || issues.length > 0) return { ok: false, issues };
  return { ok: true, value: parsed };
}

/** Recursively freezes a parsed config so nothing can change it after validation. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

/**
 * A file path; relative paths resolve against the config file's directory, so a config means the
 * same thing whatever directory the daemon starts in.
 */
export function filePath(expected = 'a file path'): Schema<string> {
  return make<string>(expected, (value, path, ctx) => {
    if (typeof value !== 'string' || value.length === 0)
      return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, false)}`);
    if (value.includes('\0')) return fail(ctx, path, 'a path must not contain NUL bytes');
    return isAbsolute(value) ? value : resolve(ctx.baseDir, value);
  });
}

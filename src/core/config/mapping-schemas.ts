/**
 * Schemas for mappings: objects with known keys (unknown keys refused with a hint), records of
 * named entries, tagged unions picked by a `type` key, and whole config sections.
 */
import { suggest } from './did-you-mean.js';
import { fail, INVALID, type Infer, joinPath, make, type Schema, shown } from './schema.js';

type Shape = Record<string, Schema<unknown>>;
type MaybeKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The parsed object: keys whose schema may yield undefined are optional. */
export type ObjectOf<S extends Shape> = Simplify<
  { readonly [K in Exclude<keyof S, MaybeKeys<S>>]: Infer<S[K]> } & { readonly [K in MaybeKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

export interface ObjectOptions {
  /** Keys that used to exist: rejected with this hint, e.g. `{ token: 'use auth_token' }`. */
  renamed?: Readonly<Record<string, string>>;
  /** Keys that exist elsewhere but may not be set here: rejected with this reason. */
  refused?: Readonly<Record<string, string>>;
  /** Keys with this prefix are accepted and ignored (CredProxy's `x-` extension keys). */
  ignorePrefix?: string;
  /** Cross-field rules, run only when every field is valid. Return messages (with key names). */
  rules?: (value: Record<string, unknown>) => readonly { path?: string; message: string }[];
}

export function obj<S extends Shape>(shape: S, options: ObjectOptions = {}): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  const expected = 'a mapping';
  return make<ObjectOf<S>>(expected, (value, path, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return fail(ctx, path, `expected a mapping with keys ${keys.join(', ')}, got ${shown(ctx, path, value, false)}`);
    }
    const input = value as Record<string, unknown>;
    let ok = true;
    for (const key of Object.keys(input)) {
      if (Object.hasOwn(shape, key)) continue;
      if (options.ignorePrefix && key.startsWith(options.ignorePrefix)) continue;
      ok = false;
      const refused = options.refused?.[key];
      if (refused) {
        fail(ctx, joinPath(path, key), `may not be set here: ${refused}`);
        continue;
      }
      const renamed = options.renamed?.[key];
      if (renamed) {
        fail(ctx, joinPath(path, key), `this key is no longer accepted: ${renamed}`);
        continue;
      }
      const hint = suggest(key, keys);
      fail(ctx, joinPath(path, key), `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed here: ${keys.join(', ') || 'none'}`);
    }
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const schema = shape[key] as Schema<unknown>;
      const raw = input[key];
      if (raw === undefined && !schema.optional) {
        ok = false;
        fail(ctx, joinPath(path, key), `is required (${schema.expected})`);
        continue;
      }
      const parsed = schema.parse(raw, joinPath(path, key), ctx);
      if (parsed === INVALID) ok = false;
      else if (parsed !== undefined) out[key] = parsed;
    }
    if (!ok) return INVALID;
    const problems = options.rules?.(out) ?? [];
    for (const problem of problems) fail(ctx, problem.path ? joinPath(path, problem.path) : path, problem.message);
    return problems.length > 0 ? INVALID : (out as ObjectOf<S>);
  });
}

export interface RecordOptions {
  /** Keys must match; rejected keys name this description. */
  key?: { pattern: RegExp; expected: string; max?: number };
  max?: number;
  /** Keys with this prefix are ignored (not parsed, not returned). */
  ignorePrefix?: string;
}

export function record<T>(value: Schema<T>, options: RecordOptions = {}): Schema<Readonly<Record<string, T>>> {
  const expected = `a mapping of names to ${value.expected}`;
  return make<Readonly<Record<string, T>>>(expected, (input, path, ctx) => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, input, false)}`);
    }
    const entries = Object.entries(input as Record<string, unknown>).filter(
      ([key]) => !(options.ignorePrefix && key.startsWith(options.ignorePrefix)),
    );
    if (options.max !== undefined && entries.length > options.max) {
      return fail(ctx, path, `must have at most ${options.max} entries (it has ${entries.length})`);
    }
    const out: Record<string, T> = {};
    let ok = true;
    for (const [key, raw] of entries) {
      if (key === '__proto__') {
        // Assigning it would replace the result's prototype instead of adding an entry.
        ok = false;
        fail(ctx, joinPath(path, key), 'is not allowed as a name');
        continue;
      }
      const keyRule = options.key;
      if (keyRule && (!keyRule.pattern.test(key) || (keyRule.max !== undefined && key.length > keyRule.max))) {
        ok = false;
        fail(ctx, joinPath(path, key), `invalid name ${shown(ctx, joinPath(path, key), key, false)}: expected ${keyRule.expected}`);
        continue;
      }
      const parsed = value.parse(raw, joinPath(path, key), ctx);
      if (parsed === INVALID) ok = false;
      else out[key] = parsed;
    }
    return ok ? out : INVALID;
  });
}

type Variants = Record<string, Schema<unknown>>;

/**
 * A mapping whose `tag` key picks the shape of the rest, e.g. `{ type: sqlite, path: ... }` or
 * `{ type: dynamodb, table: ... }`. The variant schemas describe the keys other than the tag.
 */
export function tagged<const Tag extends string, V extends Variants>(
  tag: Tag,
  variants: V,
): Schema<{ [K in keyof V]: { readonly [T in Tag]: K } & Infer<V[K]> }[keyof V]> {
  const names = Object.keys(variants);
  const expected = `a mapping with ${tag}: ${names.join(' | ')}`;
  return make(expected, (value, path, ctx) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return fail(ctx, path, `expected ${expected}, got ${shown(ctx, path, value, false)}`);
    }
    const { [tag]: kind, ...rest } = value as Record<string, unknown>;
    if (typeof kind !== 'string' || !Object.hasOwn(variants, kind)) {
      const hint = typeof kind === 'string' ? suggest(kind, names) : undefined;
      return fail(
        ctx,
        joinPath(path, tag),
        `expected one of ${names.join(', ')}, got ${shown(ctx, joinPath(path, tag), kind, false)}${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
    }
    const parsed = (variants[kind] as Schema<unknown>).parse(rest, path, ctx);
    if (parsed === INVALID) return INVALID;
    // biome-ignore lint/suspicious/noExplicitAny: the mapped type above is the real contract
    return { [tag]: kind, ...(parsed as object) } as any;
  });
}

/** A config section that may be left out: a missing one parses as `{}`, so its defaults apply. */
export function section<T>(schema: Schema<T>): Schema<T> {
  return { ...schema, optional: true, parse: (value, path, ctx) => schema.parse(value ?? {}, path, ctx) };
}

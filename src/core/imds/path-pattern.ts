/**
 * Path rules for the metadata guard: an absolute metadata path where a `*` segment matches any
 * one segment (`/*` first = any version prefix) and a `*` at the very end matches any rest, at any
 * depth. Matching is case-insensitive and ignores a trailing slash (`/a/b` matches `/a/b/`).
 * `/x/*` also matches `/x` itself. Rules see only canonical targets (canonical-target.ts).
 */
import { SidekeyError } from '../errors.js';

/** Longest rule accepted, in characters. */
export const MAX_PATTERN_LENGTH = 512;

const PATTERN_CHARS = /^\/[A-Za-z0-9\-._~+=,@:/*]*$/;

export interface PathPattern {
  /** The rule as written. */
  readonly text: string;
  /** Tests a canonical key (lower-cased canonical path). */
  matches(key: string): boolean;
}

/** Says why `text` is not a valid path rule, or undefined when it is one. */
export function pathPatternProblem(text: string): string | undefined {
  if (text.length === 0 || text.length > MAX_PATTERN_LENGTH) return `must be 1 to ${MAX_PATTERN_LENGTH} characters`;
  if (!PATTERN_CHARS.test(text)) {
    return 'expected an absolute metadata path of letters, digits and -._~+=,@: (such as /latest/meta-data/instance-id)';
  }
  const body = text.endsWith('*') ? text.slice(0, -1) : text;
  const segments = body.slice(1).split('/');
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if (segment === '' && !last) return 'must not contain repeated slashes';
    if (/^\.+$/.test(segment)) return 'must not contain dot segments';
    if (segment.includes('*') && segment !== '*') return 'a * stands for a whole segment, or ends the rule';
  }
  return undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a rule checked by `pathPatternProblem` (throws on an invalid one). */
export function compilePathPattern(text: string): PathPattern {
  const problem = pathPatternProblem(text);
  if (problem) throw new SidekeyError('CONFIG_INVALID', `invalid path rule ${JSON.stringify(text)}: ${problem}`);
  const lower = text.toLowerCase();
  const rest = lower.endsWith('*');
  let body = rest ? lower.slice(0, -1) : lower;
  const underDirectory = rest && body.endsWith('/');
  if (!rest && body.length > 1 && body.endsWith('/')) body = body.slice(0, -1);
  if (underDirectory) body = body.slice(0, -1);
  const source = body
    .split('/')
    .map((segment) => (segment === '*' ? '[^/]+' : escapeRegExp(segment)))
    .join('/');
  let suffix: string;
  if (underDirectory) suffix = '(?:/.*)?';
  else if (rest) suffix = '.*';
  else suffix = body === '/' ? '' : '/?';
  const regexp = new RegExp(`^${source}${suffix}$`);
  return { text, matches: (key) => regexp.test(key) };
}

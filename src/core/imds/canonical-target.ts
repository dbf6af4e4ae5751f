/**
 * The one canonical form of a metadata request target. Every policy decision is made on it, and
 * it is exactly what the guard forwards, so the upstream never sees a spelling the policy did not.
 *
 * Nothing ambiguous is interpreted: a target that a server might read in more than one way
 * (encoded separators or dots, double encoding, backslashes, dot segments, repeated slashes,
 * control or non-ASCII bytes, absolute-form, queries, fragments, path parameters) is refused.
 * The bypass classes are listed in docs/imds.md; normalization follows RFC 3986 section 6.
 */

/** Longest request target accepted, in bytes (IMDS paths are short; role names are at most 64). */
export const MAX_TARGET_BYTES = 2048;
/** Deepest path accepted, in segments. */
export const MAX_PATH_SEGMENTS = 32;

export const TARGET_REFUSALS = [
  'too-long',
  'not-origin-form',
  'control-or-non-ascii',
  'backslash',
  'query',
  'fragment',
  'path-parameter',
  'character',
  'malformed-escape',
  'encoded-separator',
  'encoded-dot',
  'double-encoding',
  'encoded-character',
  'repeated-slash',
  'dot-segment',
] as const;
export type TargetRefusalReason = (typeof TARGET_REFUSALS)[number];

export interface CanonicalTarget {
  readonly ok: true;
  /** The path as forwarded: escapes of unreserved characters decoded, case kept. */
  readonly path: string;
  /** `path` lower-cased: what rules match against (IMDS paths are matched case-insensitively). */
  readonly key: string;
  /** Path segments as sent (case kept), without the empty one a trailing slash leaves. */
  readonly segments: readonly string[];
  readonly trailingSlash: boolean;
}

export interface TargetRefusal {
  readonly ok: false;
  readonly reason: TargetRefusalReason;
}

/** Characters a metadata path may hold besides `/` and `%`: RFC 3986 unreserved, plus `+=,@:` (role names, MACs). */
const PATH_CHAR = /^[A-Za-z0-9\-._~+=,@:/%]*$/;
/** Escapes that are decoded: unreserved characters other than `.` (equivalent to the raw character per RFC 3986 6.2.2.2). */
const DECODABLE = /^[A-Za-z0-9\-_~]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;

const refuse = (reason: TargetRefusalReason): TargetRefusal => ({ ok: false, reason });

/** Refusal for one decoded escape, or undefined when it may be decoded. */
function escapeProblem(char: string): TargetRefusalReason | undefined {
  if (char === '/' || char === '\\') return 'encoded-separator';
  if (char === '.') return 'encoded-dot';
  if (char === '%') return 'double-encoding';
  return DECODABLE.test(char) ? undefined : 'encoded-character';
}

function decodeEscapes(raw: string): string | TargetRefusal {
  if (!raw.includes('%')) return raw;
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i] as string;
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return refuse('malformed-escape');
    const decoded = String.fromCharCode(Number.parseInt(hex, 16));
    const problem = escapeProblem(decoded);
    if (problem) return refuse(problem);
    out += decoded;
    i += 2;
  }
  return out;
}

/** Canonicalizes a raw request target (the bytes between the method and the HTTP version, read as latin1). */
export function canonicalizeTarget(raw: string): CanonicalTarget | TargetRefusal {
  if (raw.length > MAX_TARGET_BYTES) return refuse('too-long');
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return refuse('control-or-non-ascii');
  }
  if (!raw.startsWith('/')) return refuse('not-origin-form');
  if (raw.includes('\\')) return refuse('backslash');
  if (raw.includes('?')) return refuse('query');
  if (raw.includes('#')) return refuse('fragment');
  if (raw.includes(';')) return refuse('path-parameter');
  if (!PATH_CHAR.test(raw)) return refuse('character');
  const decoded = decodeEscapes(raw);
  if (typeof decoded !== 'string') return decoded;
  const parts = decoded.slice(1).split('/');
  const trailingSlash = parts[parts.length - 1] === '';
  const segments = trailingSlash ? parts.slice(0, -1) : parts;
  if (segments.length > MAX_PATH_SEGMENTS) return refuse('too-long');
  for (const segment of segments) {
    if (segment === '') return refuse('repeated-slash');
    // `.` and `..` are dot segments; a segment of dots only is refused too (some servers trim them).
    if (/^\.+$/.test(segment)) return refuse('dot-segment');
  }
  return { ok: true, path: decoded, key: decoded.toLowerCase(), segments, trailingSlash };
}

/** True when `segment` is an IMDS version prefix: `latest`, `1.0` or a date such as `2009-04-04`. */
export function isVersionSegment(segment: string): boolean {
  return segment === 'latest' || segment === '1.0' || /^\d{4}-\d{2}-\d{2}$/.test(segment);
}

/** The metadata guard's part of the config (docs/imds.md documents it). */
import { MAX_PATTERN_LENGTH, pathPatternProblem } from '../../imds/path-pattern.js';
import { connectionCapFields, IMDS_GUARD_CAPS } from '../connection-limits.js';
import { listenAddress } from '../listen-address.js';
import { obj } from '../mapping-schemas.js';
import { arr, bool, filePath, type Infer, int, oneOf, optional, str, withDefault } from '../schema.js';
import { cidr, name } from '../validators.js';

export const DEFAULT_IMDS_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 8169 } as const;
export const DEFAULT_IMDS_UPSTREAM = 'http://169.254.169.254';
export const DEFAULT_IMDS_CACHE_TTL_SECONDS = 60;
/** Longest static-answer cache lifetime accepted, in seconds. */
export const MAX_IMDS_CACHE_TTL_SECONDS = 3600;
/** Most extra rules per list, and most caller mappings. */
export const MAX_IMDS_RULES = 256;
export const MAX_IMDS_CALLERS = 1024;

/** A path rule: `*` as a whole segment matches one segment, a trailing `*` matches any rest. */
const pathRule = str({
  min: 1,
  max: MAX_PATTERN_LENGTH,
  expected: 'a metadata path such as /latest/meta-data/instance-id (a * segment matches one segment, a trailing * the rest)',
  check: pathPatternProblem,
});

const caller = obj({ cidr: cidr(), service: name() });

export const imdsSchema = obj(
  {
    listen: withDefault(listenAddress(), DEFAULT_IMDS_LISTEN),
    upstream: withDefault(
      str({
        pattern: /^http:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/,
        expected: 'an http URL with no path, such as http://169.254.169.254',
      }),
      DEFAULT_IMDS_UPSTREAM,
    ),
    preset: withDefault(oneOf(['default', 'strict'] as const), 'default'),
    allow: withDefault(arr(pathRule, { max: MAX_IMDS_RULES }), []),
    deny: withDefault(arr(pathRule, { max: MAX_IMDS_RULES }), []),
    require_token: withDefault(bool(), false),
    cache_ttl_seconds: withDefault(int({ min: 0, max: MAX_IMDS_CACHE_TTL_SECONDS, unit: 'seconds' }), DEFAULT_IMDS_CACHE_TTL_SECONDS),
    callers: withDefault(arr(caller, { max: MAX_IMDS_CALLERS }), []),
    /** Where per-caller token bindings survive a restart (hashes only, mode 0600); none: kept in memory. */
    tokens_file: optional(filePath('the token bindings file')),
    ...connectionCapFields(IMDS_GUARD_CAPS),
  },
  {
    rules: (v) => {
      const callers = (v.callers ?? []) as readonly { cidr: string; service: string }[];
      const seen = new Map<string, number>();
      const problems: { path?: string; message: string }[] = [];
      callers.forEach((c, i) => {
        const previous = seen.get(c.cidr.toLowerCase());
        if (previous !== undefined)
          problems.push({
            path: `callers[${i}].cidr`,
            message: `${c.cidr} is already mapped by callers[${previous}]: one block, one service`,
          });
        else seen.set(c.cidr.toLowerCase(), i);
      });
      return problems;
    },
  },
);
export type ImdsConfig = Infer<typeof imdsSchema>;

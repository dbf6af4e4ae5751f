/** The metadata guard's part of the config (issue 4's shape; docs/config.md documents it). */
import { listenAddress } from '../listen-address.js';
import { type Infer, arr, bool, int, obj, oneOf, optional, str, withDefault } from '../schema.js';
import { cidr, name } from '../validators.js';

export const DEFAULT_IMDS_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 8169 } as const;
export const DEFAULT_IMDS_UPSTREAM = 'http://169.254.169.254';
export const DEFAULT_IMDS_CACHE_TTL_SECONDS = 60;

/** A path rule: an absolute metadata path; a trailing `*` matches any rest. */
const pathRule = str({
  min: 1,
  max: 512,
  pattern: /^\/[A-Za-z0-9._~/-]*\*?$/,
  expected: 'a metadata path such as /latest/meta-data/instance-id (a trailing * matches the rest)',
});

export const imdsSchema = obj({
  listen: withDefault(listenAddress(), DEFAULT_IMDS_LISTEN),
  upstream: withDefault(
    str({ pattern: /^http:\/\/(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/, expected: 'an http URL with no path, such as http://169.254.169.254' }),
    DEFAULT_IMDS_UPSTREAM,
  ),
  preset: withDefault(oneOf(['default', 'strict'] as const), 'default'),
  allow: withDefault(arr(pathRule, { max: 256 }), []),
  deny: withDefault(arr(pathRule, { max: 256 }), []),
  require_token: withDefault(bool(), false),
  cache_ttl_seconds: withDefault(int({ min: 0, max: 3600, unit: 'seconds' }), DEFAULT_IMDS_CACHE_TTL_SECONDS),
  callers: withDefault(arr(obj({ cidr: cidr(), service: name() }), { max: 1024 }), []),
});
export type ImdsConfig = Infer<typeof imdsSchema>;

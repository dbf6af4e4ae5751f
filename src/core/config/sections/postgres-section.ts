/** The Postgres IAM proxy's part of the config (issue 5's shape; docs/config.md documents it). */
import { listenAddress } from '../listen-address.js';
import { type Infer, anyOf, arr, filePath, int, obj, oneOf, optional, record, section, str, withDefault } from '../schema.js';
import { MAX_NAME_LENGTH, NAME_EXPECTED, name, region } from '../validators.js';

export const DEFAULT_PG_PORT = 5432;
/** The most client connections one target accepts at once. */
export const DEFAULT_PG_MAX_CONNECTIONS = 100;

const tlsUpstream = obj({
  mode: withDefault(oneOf(['verify-full', 'verify-ca', 'require', 'disable'] as const), 'verify-full'),
  ca_file: optional(filePath('a CA bundle (PEM), such as the RDS global bundle')),
});

const passwordAuth = obj({ password: str({ secret: true, min: 1, max: 1024, expected: 'the database password' }) });

export const pgTargetSchema = obj({
  host: str({ min: 1, max: 253, expected: 'the database host name' }),
  port: withDefault(int({ min: 1, max: 65535 }), DEFAULT_PG_PORT),
  region: optional(region()),
  database: optional(str({ min: 1, max: 63 })),
  user: str({ min: 1, max: 63, expected: 'the database user to log in as' }),
  auth: withDefault(anyOf('iam, or { password: ... }', oneOf(['iam'] as const), passwordAuth), 'iam' as const),
  service: optional(name()),
  tls: section(tlsUpstream),
  listen: optional(listenAddress()),
  via: optional(str({ min: 3, max: 260, pattern: /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/, expected: 'a server proxy address HOST:PORT' })),
  max_connections: withDefault(int({ min: 1, max: 100_000 }), DEFAULT_PG_MAX_CONNECTIONS),
});
export type PgTargetConfig = Infer<typeof pgTargetSchema>;

export const postgresSchema = obj({
  targets: withDefault(
    record(pgTargetSchema, { key: { pattern: /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/, expected: NAME_EXPECTED, max: MAX_NAME_LENGTH } }),
    {},
  ),
  server: optional(
    obj({
      listen: listenAddress(),
      tls: obj({ cert_file: filePath('the server certificate (PEM)'), key_file: filePath('the server key (PEM)') }),
      allow: arr(name(), { min: 1, max: 1000 }),
    }),
  ),
});
export type PostgresConfig = Infer<typeof postgresSchema>;

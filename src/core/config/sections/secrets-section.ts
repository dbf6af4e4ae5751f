/** The secrets store's part of the config (issue 3's shape; docs/config.md documents it). */
import { listenAddress } from '../listen-address.js';
import { type Infer, arr, filePath, int, obj, oneOf, optional, str, tagged, withDefault } from '../schema.js';
import { name, region, token } from '../validators.js';

export const DEFAULT_SECRETS_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 8080 } as const;
export const DEFAULT_SECRETS_CACHE_TTL_SECONDS = 30;
export const DEFAULT_APPLICATION = 'default';

export const secretsStoreSchema = tagged('type', {
  sqlite: obj({ path: withDefault(filePath('the SQLite database file'), 'data/secrets.db') }),
  dynamodb: obj({
    table: str({ min: 3, max: 255, pattern: /^[A-Za-z0-9_.-]+$/, expected: 'a DynamoDB table name' }),
    region: optional(region()),
  }),
});

export const keyringSchema = tagged('type', {
  local: obj({ key_file: withDefault(filePath('the master key file'), 'data/master.key') }),
  kms: obj({
    key_id: str({ min: 1, max: 2048, expected: 'a KMS key id, ARN or alias/NAME' }),
    region: optional(region()),
  }),
});

/** A name pattern: a secret name, optionally ending in `*` (prefix match); `*` alone is any name. */
const namePattern = str({
  min: 1,
  max: 64,
  pattern: /^(?:\*|[a-z0-9][a-z0-9-]*\*?)$/,
  expected: 'a secret name or a prefix ending in * (such as db-*), or * for all',
});

export const secretsTokenSchema = obj({
  id: name(),
  token: token(),
  role: oneOf(['admin', 'reader'] as const),
  application: withDefault(name(), DEFAULT_APPLICATION),
  names: withDefault(arr(namePattern, { min: 1, max: 64 }), ['*']),
});

export const secretsSchema = obj(
  {
    listen: withDefault(listenAddress(), DEFAULT_SECRETS_LISTEN),
    application: withDefault(name(), DEFAULT_APPLICATION),
    store: withDefault(secretsStoreSchema, { type: 'sqlite', path: 'data/secrets.db' } as never),
    keyring: withDefault(keyringSchema, { type: 'local', key_file: 'data/master.key' } as never),
    cache_ttl_seconds: withDefault(int({ min: 0, max: 3600, unit: 'seconds' }), DEFAULT_SECRETS_CACHE_TTL_SECONDS),
    tokens: withDefault(arr(secretsTokenSchema, { max: 256 }), []),
  },
  {
    rules: (v) => {
      const tokens = v.tokens as Infer<typeof secretsTokenSchema>[];
      const seen = new Set<string>();
      const problems: { path?: string; message: string }[] = [];
      tokens.forEach((t, i) => {
        if (seen.has(t.id)) problems.push({ path: `tokens[${i}].id`, message: `duplicate token id "${t.id}"` });
        seen.add(t.id);
      });
      return problems;
    },
  },
);
export type SecretsConfig = Infer<typeof secretsSchema>;

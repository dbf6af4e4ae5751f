/**
 * The secrets store's part of the config (docs/secrets.md documents every key).
 * Relative paths, including the defaults, resolve against the config file's directory.
 */
import { resolve } from 'node:path';
import { connectionCapFields, SECRETS_API_CAPS } from '../connection-limits.js';
import { isLoopback, type ListenAddress, listenAddress } from '../listen-address.js';
import { obj, tagged } from '../mapping-schemas.js';
import { arr, bool, filePath, INVALID, type Infer, int, oneOf, optional, type Schema, str, withDefault } from '../schema.js';
import { name, region, token } from '../validators.js';

export const DEFAULT_SECRETS_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 8080 } as const;
export const DEFAULT_SECRETS_CACHE_TTL_SECONDS = 30;
export const MAX_SECRETS_CACHE_TTL_SECONDS = 3600;
export const DEFAULT_APPLICATION = 'default';
export const DEFAULT_SECRETS_DB = 'data/secrets.db';
export const DEFAULT_MASTER_KEY_FILE = 'data/master.key';
/** The most tokens one secrets front accepts. */
export const MAX_SECRETS_TOKENS = 256;

/** Like withDefault, but the fallback is parsed too, so a default path resolves like a given one. */
function parsedDefault<T>(schema: Schema<T>, fallback: unknown): Schema<T> {
  return { ...schema, optional: true, parse: (value, path, ctx) => schema.parse(value ?? fallback, path, ctx) };
}

export const secretsStoreSchema = tagged('type', {
  sqlite: obj({ path: parsedDefault(filePath('the SQLite database file'), DEFAULT_SECRETS_DB) }),
  dynamodb: obj({
    table: str({ min: 3, max: 255, pattern: /^[A-Za-z0-9_.-]+$/, expected: 'a DynamoDB table name' }),
    region: optional(region()),
  }),
  /**
   * ecs-secrets' own tables (`ECS-Secrets-<app>-Secrets`) and format, read and written as that
   * tool does, KMS data keys under `alias/ECSSecretsMaskerKey-<app>` with no encryption context.
   * The keyring section is not used. docs/secrets.md says what this gives up.
   */
  'ecs-secrets': obj({ region: optional(region()) }),
});

const localKeyringFields = obj(
  {
    key_file: optional(filePath('the master key file')),
    /** Key material in the key file's format, e.g. `${fromFile:/run/secrets/master.key}`. */
    keys: optional(str({ secret: true, min: 1, max: 1024 * 1024, expected: 'master keys as ID:BASE64 lines' })),
  },
  {
    rules: (v) =>
      v.key_file !== undefined && v.keys !== undefined ? [{ message: 'cannot specify key_file and keys together: pick one source' }] : [],
  },
);

/** Without `keys`, `key_file` defaults to DEFAULT_MASTER_KEY_FILE beside the config file, never the working directory. */
const localKeyring: typeof localKeyringFields = {
  ...localKeyringFields,
  parse: (value, path, ctx) => {
    const parsed = localKeyringFields.parse(value, path, ctx);
    if (parsed === INVALID || parsed.keys !== undefined || parsed.key_file !== undefined) return parsed;
    return { ...parsed, key_file: resolve(ctx.baseDir, DEFAULT_MASTER_KEY_FILE) };
  },
};

export const keyringSchema = tagged('type', {
  local: localKeyring,
  kms: obj({
    key_id: str({ min: 1, max: 2048, expected: 'a KMS key id, ARN or alias/NAME' }),
    /** Keys older versions may still be wrapped under; every other key is refused. */
    previous_key_ids: withDefault(arr(str({ min: 1, max: 2048, expected: 'a KMS key id, ARN or alias/NAME' }), { max: 16 }), []),
    region: optional(region()),
  }),
});

/** A name pattern: a secret name, optionally ending in `*` (prefix match); `*` alone is any name. */
const namePattern = str({
  min: 1,
  max: 256,
  pattern: /^(?:\*|[A-Za-z0-9_][A-Za-z0-9._-]*\*?)$/,
  expected: 'a secret name or a prefix ending in * (such as db-*), or * for all',
});

export const secretsTokenSchema = obj({
  id: name(),
  token: token(),
  role: oneOf(['admin', 'reader'] as const),
  application: withDefault(name(), DEFAULT_APPLICATION),
  names: withDefault(arr(namePattern, { min: 1, max: 64 }), ['*']),
});
export type SecretsTokenConfig = Infer<typeof secretsTokenSchema>;

export const secretsSchema = obj(
  {
    listen: withDefault(listenAddress(), DEFAULT_SECRETS_LISTEN),
    /** The application the CLI acts in when --application-name is not given. */
    application: withDefault(name(), DEFAULT_APPLICATION),
    store: parsedDefault(secretsStoreSchema, { type: 'sqlite' }),
    keyring: parsedDefault(keyringSchema, { type: 'local' }),
    cache_ttl_seconds: withDefault(int({ min: 0, max: MAX_SECRETS_CACHE_TTL_SECONDS, unit: 'seconds' }), DEFAULT_SECRETS_CACHE_TTL_SECONDS),
    tokens: withDefault(arr(secretsTokenSchema, { max: MAX_SECRETS_TOKENS }), []),
    /**
     * Host header values accepted besides the listener's own address: the names clients use
     * (a compose service or docker link, `ecs-secrets:8080`). Others are refused (DNS rebinding).
     */
    allowed_hosts: withDefault(arr(str({ min: 1, max: 253 }), { max: 64 }), []),
    ...connectionCapFields(SECRETS_API_CAPS),
    /**
     * A second listener answering exactly as ecs-secrets does, acting as one of `tokens`. Its
     * clients send no token, so it listens on loopback or a unix socket only, unless
     * `require_token` makes clients send that token (`Authorization: Bearer`): then anywhere.
     */
    ecs_secrets_api: optional(obj({ listen: listenAddress(), token_id: name(), require_token: withDefault(bool(), false) })),
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
      const compat = v.ecs_secrets_api as { listen: ListenAddress; token_id: string; require_token: boolean } | undefined;
      if (compat && !seen.has(compat.token_id))
        problems.push({ path: 'ecs_secrets_api.token_id', message: `no token with id "${compat.token_id}" under secrets.tokens` });
      if (compat && !compat.require_token && !isLoopback(compat.listen))
        problems.push({
          path: 'ecs_secrets_api.listen',
          message:
            "must be a loopback address or a unix socket: ecs-secrets' clients send no token, so anyone who reaches it acts as the token (set require_token: true to listen elsewhere and make clients send it)",
        });
      return problems;
    },
  },
);
export type SecretsConfig = Infer<typeof secretsSchema>;

/**
 * The credential endpoint's part of the config. Key names follow CredProxy's JSON schema so a
 * CredProxy file loads unchanged (docs/config.md lists the differences: safer defaults).
 */
import { CREDENTIAL_ENDPOINT_CAPS, connectionCapFields } from '../connection-limits.js';
import { type ListenAddress, listenAddress } from '../listen-address.js';
import { obj, record } from '../mapping-schemas.js';
import { arr, bool, filePath, type Infer, int, optional, refine, str, withDefault } from '../schema.js';
import { MAX_NAME_LENGTH, NAME_EXPECTED, region, roleArn, sessionSeconds, token } from '../validators.js';

/** CredProxy's default port for the credential endpoint. */
export const DEFAULT_ENDPOINT_PORT = 1338;
/** Our default STS session: an hour (CredProxy's 900 s leaves botocore refetching on every call). */
export const DEFAULT_SESSION_SECONDS = 3600;
/** Start refreshing when this much lifetime is left. */
export const DEFAULT_REFRESH_BUFFER_SECONDS = 1800;
/** Default per-service request rate (requests per second) and burst. */
export const DEFAULT_RATE_PER_SECOND = 200;
export const DEFAULT_RATE_BURST = 400;
/** First retry delay after a failed STS call; doubles per failure up to the maximum. */
export const DEFAULT_RETRY_DELAY_SECONDS = 1;
export const DEFAULT_MAX_RETRY_DELAY_SECONDS = 60;
/** One STS call's connect + response timeout: SDK callers give up after 1 s (JS) or 2 s (botocore) per attempt. */
export const DEFAULT_STS_TIMEOUT_SECONDS = 3;
/** The most services one daemon serves (each holds cached credentials and a rate limiter). */
export const MAX_SERVICES = 1000;

const secretString = (expected: string) => str({ secret: true, min: 1, max: 4096, expected });

const iamProfile = obj({
  profile_name: str({ min: 1, max: 128, expected: 'a profile name from the AWS config file' }),
  config_file: optional(filePath('the AWS config file')),
  credentials_file: optional(filePath('the AWS shared credentials file')),
});

/** Access keys, under CredProxy's names or the shorter ones its docs use. */
const iamKeys = obj(
  {
    aws_access_key_id: optional(secretString('an access key id')),
    aws_secret_access_key: optional(secretString('a secret access key')),
    access_key_id: optional(secretString('an access key id')),
    secret_access_key: optional(secretString('a secret access key')),
    session_token: optional(secretString('a session token')),
    aws_session_token: optional(secretString('a session token')),
  },
  {
    rules: (v) => {
      const problems: { path?: string; message: string }[] = [];
      const id = v.aws_access_key_id ?? v.access_key_id;
      const secret = v.aws_secret_access_key ?? v.secret_access_key;
      if (v.aws_access_key_id !== undefined && v.access_key_id !== undefined)
        problems.push({ message: 'cannot specify aws_access_key_id and access_key_id together' });
      if (v.aws_secret_access_key !== undefined && v.secret_access_key !== undefined)
        problems.push({ message: 'cannot specify aws_secret_access_key and secret_access_key together' });
      if (id === undefined) problems.push({ path: 'aws_access_key_id', message: 'is required with iam_keys' });
      if (secret === undefined) problems.push({ path: 'aws_secret_access_key', message: 'is required with iam_keys' });
      return problems;
    },
  },
);

export const sourceCredentialsSchema = obj(
  {
    region: optional(region()),
    iam_profile: optional(iamProfile),
    iam_keys: optional(iamKeys),
  },
  {
    rules: (v) => (v.iam_profile && v.iam_keys ? [{ message: 'cannot specify iam_profile and iam_keys together: pick one source' }] : []),
  },
);
export type SourceCredentialsConfig = Infer<typeof sourceCredentialsSchema>;

const tag = obj({
  Key: str({ min: 1, max: 128, expected: 'a tag key' }),
  Value: str({ max: 256, expected: 'a tag value' }),
});

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

export const assumedRoleSchema = obj({
  RoleArn: roleArn(),
  RoleSessionName: optional(str({ pattern: SESSION_NAME, expected: 'a session name of 2 to 64 characters [A-Za-z0-9_+=,.@-]' })),
  DurationSeconds: withDefault(sessionSeconds(), DEFAULT_SESSION_SECONDS),
  ExternalId: optional(str({ min: 2, max: 1224, pattern: /^[\w+=,.@:/-]+$/, expected: 'an external id of 2 to 1224 characters' })),
  Policy: optional(
    str({
      min: 1,
      max: 2048,
      expected: 'an inline session policy as a JSON string',
      check: (value) => {
        try {
          JSON.parse(value);
          return undefined;
        } catch {
          return 'is not valid JSON';
        }
      },
    }),
  ),
  PolicyArns: optional(
    arr(str({ pattern: /^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy\/.+$/, expected: 'a managed policy ARN' }), { max: 10 }),
  ),
  Tags: optional(arr(tag, { max: 50 })),
  SourceIdentity: optional(str({ pattern: /^[\w+=,.@-]{2,64}$/, expected: 'a source identity of 2 to 64 characters [A-Za-z0-9_+=,.@-]' })),
});
export type AssumedRoleConfig = Infer<typeof assumedRoleSchema>;

const rateLimit = obj({
  per_second: withDefault(int({ min: 1, max: 1_000_000, unit: 'requests per second' }), DEFAULT_RATE_PER_SECOND),
  burst: withDefault(int({ min: 1, max: 1_000_000, unit: 'requests' }), DEFAULT_RATE_BURST),
});

/** What a service file in a dynamic_services directory may set: everything but where credentials come from. */
const serviceFields = {
  auth_token: optional(token()),
  auth_token_file: optional(filePath('a file holding the service token')),
  assumed_role: assumedRoleSchema,
  rate_limit: optional(rateLimit),
  enabled: withDefault(bool(), true),
};

const serviceOptions = {
  ignorePrefix: 'x-',
  renamed: { token: 'use auth_token (or auth_token_file)', role_arn: 'use assumed_role.RoleArn' },
  rules: (v: Record<string, unknown>) => {
    if (v.auth_token !== undefined && v.auth_token_file !== undefined)
      return [{ message: 'cannot specify auth_token and auth_token_file together' }];
    if (v.auth_token === undefined && v.auth_token_file === undefined)
      return [{ path: 'auth_token', message: 'is required (or auth_token_file); sidekey token makes one' }];
    return [];
  },
};

export const serviceSchema = obj({ ...serviceFields, source_credentials: optional(sourceCredentialsSchema) }, serviceOptions);
export type ServiceConfig = Infer<typeof serviceSchema>;

/**
 * A service in a dynamic service file. Whoever may drop such a file is trusted less than the main
 * config: base credentials and profiles are where command execution (credential_process) and the
 * daemon's own keys live, so they come from the main config only.
 */
export const dynamicServiceSchema = obj(serviceFields, {
  ...serviceOptions,
  refused: {
    source_credentials:
      'a dynamic service file cannot choose base credentials, profiles or endpoints; they come from the main config (aws_defaults)',
  },
});

export const SERVICE_NAME_RULE = {
  pattern: /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/,
  expected: NAME_EXPECTED,
  max: MAX_NAME_LENGTH,
} as const;

/** Two services with one token could not be told apart: each needs its own. */
function sharedTokenProblem(services: Readonly<Record<string, ServiceConfig>>): string | undefined {
  const owners = new Map<string, string>();
  for (const [name, service] of Object.entries(services)) {
    if (service.auth_token === undefined) continue;
    const owner = owners.get(service.auth_token);
    if (owner !== undefined)
      return `services "${owner}" and "${name}" have the same auth_token; every service needs its own (sidekey token makes one)`;
    owners.set(service.auth_token, name);
  }
  return undefined;
}

export const servicesSchema = refine(
  record(serviceSchema, { key: SERVICE_NAME_RULE, max: MAX_SERVICES, ignorePrefix: 'x-' }),
  sharedTokenProblem,
);

export const dynamicServicesRecordSchema = refine(
  record(dynamicServiceSchema, { key: SERVICE_NAME_RULE, max: MAX_SERVICES, ignorePrefix: 'x-' }),
  sharedTokenProblem,
);

export const serverSchema = obj(
  {
    host: optional(str({ min: 1, max: 253, expected: 'a host name or IP address' })),
    port: optional(int({ min: 0, max: 65535 })),
    listeners: optional(arr(listenAddress(), { min: 1, max: 16 })),
    /** Extra Host header values accepted besides each listener's own address. */
    allowed_hosts: withDefault(arr(str({ min: 1, max: 253 }), { max: 64 }), []),
    debug: withDefault(bool(), false),
    log_health_checks: withDefault(bool(), false),
    rate_limit: optional(rateLimit),
    ...connectionCapFields(CREDENTIAL_ENDPOINT_CAPS),
  },
  {
    rules: (v) =>
      v.listeners && (v.host !== undefined || v.port !== undefined)
        ? [{ message: 'cannot specify server.listeners together with server.host/server.port' }]
        : [],
  },
);

/** The endpoint's listeners after defaults: `listeners`, else `host:port`, else 127.0.0.1:1338. */
export function endpointListeners(server: Infer<typeof serverSchema> | undefined): readonly ListenAddress[] {
  if (server?.listeners) return server.listeners;
  const host = server?.host === undefined || server.host === 'localhost' ? '127.0.0.1' : server.host;
  return [{ kind: 'tcp', host, port: server?.port ?? DEFAULT_ENDPOINT_PORT }];
}

export const credentialsSchema = obj(
  {
    refresh_buffer_seconds: withDefault(int({ min: 60, max: 43200, unit: 'seconds' }), DEFAULT_REFRESH_BUFFER_SECONDS),
    retry_delay: withDefault(int({ min: 1, max: 300, unit: 'seconds' }), DEFAULT_RETRY_DELAY_SECONDS),
    max_retry_delay: withDefault(int({ min: 1, max: 3600, unit: 'seconds' }), DEFAULT_MAX_RETRY_DELAY_SECONDS),
    request_timeout: withDefault(int({ min: 1, max: 60, unit: 'seconds' }), DEFAULT_STS_TIMEOUT_SECONDS),
    /**
     * STS endpoint URL (a VPC endpoint, FIPS, a test peer). Without it the SDK's standard
     * resolution applies: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, endpoint_url, the regional endpoint.
     */
    sts_endpoint: optional(
      str({
        min: 1,
        max: 2048,
        expected: 'an http(s) URL such as https://sts.eu-west-1.amazonaws.com',
        check: (value) => {
          try {
            const url = new URL(value);
            if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http:// or https:// URL';
            if (url.username || url.password) return 'must not carry a user name or password';
            return undefined;
          } catch {
            return 'is not a URL';
          }
        },
      }),
    ),
  },
  {
    rules: (v) =>
      (v.max_retry_delay as number) < (v.retry_delay as number)
        ? [{ path: 'max_retry_delay', message: `must be at least retry_delay (${v.retry_delay} seconds)` }]
        : [],
  },
);

/** An ARN pattern: `*` stands for any run of characters, nothing else is special. */
const roleArnPattern = str({
  min: 1,
  max: 2048,
  pattern: /^arn:aws[\w*-]*:iam::(?:\d{12}|\*):role\/[\w+=,.@/*-]+$/,
  expected: 'an IAM role ARN, * standing for any run of characters (arn:aws:iam::123456789012:role/apps/*)',
});

export const dynamicServicesSchema = obj(
  {
    enabled: withDefault(bool(), false),
    directories: withDefault(
      arr(
        obj({
          path: filePath('a directory of service files'),
          include_patterns: withDefault(arr(str({ min: 1, max: 256 })), ['*.yaml', '*.yml']),
          exclude_patterns: withDefault(arr(str({ min: 1, max: 256 })), []),
        }),
        { max: 32 },
      ),
      [],
    ),
    reload_interval: withDefault(int({ min: 1, max: 86400, unit: 'seconds' }), 30),
    /** The roles a service file may name: without a match the service is refused. */
    allowed_role_arns: withDefault(arr(roleArnPattern, { max: 256 }), []),
    /**
     * Where a service file's auth_token_file and ${fromFile:} may point (symlinks resolved).
     * Default: the directory the service file is in.
     */
    token_directories: optional(arr(filePath('a directory of token files'), { min: 1, max: 32 })),
  },
  {
    rules: (v) =>
      v.enabled === true && (v.allowed_role_arns as readonly string[]).length === 0
        ? [
            {
              path: 'allowed_role_arns',
              message:
                'is required when dynamic_services is enabled: list the role ARNs (or patterns with *) a service file may assume, so whoever writes one cannot pick any role the daemon can reach',
            },
          ]
        : [],
  },
);

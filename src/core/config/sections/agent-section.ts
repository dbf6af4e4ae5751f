/**
 * `agent`: a listener that answers as the AWS Secrets Manager Agent and the Parameters and Secrets
 * Lambda extension do (`GET /secretsmanager/get?secretId=...`, `GET /v1/SECRET_ID`,
 * `GET /systemsmanager/parameters/get?name=...`, `/ping`), reading through a cache from Secrets
 * Manager and SSM Parameter Store with the daemon's own credentials, or a service's assumed role.
 * Callers send a token of `tokens` in `X-Aws-Parameters-Secrets-Token` (the agents' SSRF header);
 * its `names` and `parameters` decide what it may read.
 */
import { listenAddress } from '../listen-address.js';
import { obj } from '../mapping-schemas.js';
import { arr, type Infer, int, optional, str, withDefault } from '../schema.js';
import { name, token } from '../validators.js';

/** The Secrets Manager Agent's port. */
export const DEFAULT_AGENT_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 2773 } as const;
/** The agent's default cache lifetime, in seconds. */
export const DEFAULT_AGENT_TTL_SECONDS = 300;
export const MAX_AGENT_TTL_SECONDS = 86_400;
/** How long past its TTL an answer may stand in while the source is failing, by default. */
export const DEFAULT_AGENT_STALE_IF_ERROR_SECONDS = 300;
export const MAX_AGENT_TOKENS = 256;

/** A secret name or ARN (Secrets Manager's characters, and `:` for ARNs), optionally ending in `*`; `*` alone is any. */
const secretIdPattern = str({
  min: 1,
  max: 2048,
  pattern: /^(?:\*|[A-Za-z0-9/_+=.@:-]+\*?)$/,
  expected: 'a secret name or ARN, or a prefix of one ending in * (such as prod/web/*), or * for all',
});

/** A parameter name (SSM's characters, leading / for a hierarchy) or ARN, optionally ending in `*`; `*` alone is any. */
const parameterNamePattern = str({
  min: 1,
  max: 2048,
  pattern: /^(?:\*|[A-Za-z0-9/_.:-]+\*?)$/,
  expected: 'a parameter name or ARN, or a prefix of one ending in * (such as /prod/web/*), or * for all',
});

export const agentSchema = obj({
  listen: withDefault(listenAddress(), DEFAULT_AGENT_LISTEN),
  ttl_seconds: withDefault(int({ min: 0, max: MAX_AGENT_TTL_SECONDS, unit: 'seconds' }), DEFAULT_AGENT_TTL_SECONDS),
  /** Region of Secrets Manager; aws_defaults.region (or the standard chain's) when omitted. */
  region: optional(str({ min: 1, max: 32, pattern: /^[a-z0-9-]+$/, expected: 'an AWS region such as us-east-1' })),
  /** How long past its TTL an answer is served while the source throttles, fails or cannot be reached; 0 never. */
  stale_if_error_seconds: withDefault(int({ min: 0, max: MAX_AGENT_TTL_SECONDS, unit: 'seconds' }), DEFAULT_AGENT_STALE_IF_ERROR_SECONDS),
  tokens: arr(
    obj(
      {
        id: name(),
        token: token(),
        /** Secrets Manager secrets this caller reads; none unless listed. */
        names: withDefault(arr(secretIdPattern, { min: 0, max: 64 }), []),
        /** Parameter Store parameters this caller reads; none unless listed. */
        parameters: withDefault(arr(parameterNamePattern, { min: 0, max: 64 }), []),
        /** Read as this service's assumed role instead of the daemon's own credentials. */
        service: optional(name()),
      },
      {
        rules: (t) =>
          (t.names as unknown[]).length + (t.parameters as unknown[]).length === 0
            ? [{ message: 'a token must list the secrets (names) or parameters (parameters) it reads; * for all' }]
            : [],
      },
    ),
    {
      min: 1,
      max: MAX_AGENT_TOKENS,
    },
  ),
});
export type AgentConfig = Infer<typeof agentSchema>;

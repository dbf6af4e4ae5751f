/**
 * `agent`: a listener that answers as the AWS Secrets Manager Agent does (`GET
 * /secretsmanager/get?secretId=...`, `GET /v1/SECRET_ID`, `/ping`), reading through a cache from
 * Secrets Manager with the daemon's own credentials. Callers send a token of `tokens` in
 * `X-Aws-Parameters-Secrets-Token` (the agent's SSRF header); its `names` decide what it may read.
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
export const MAX_AGENT_TOKENS = 256;

/** A secret name or ARN (Secrets Manager's characters, and `:` for ARNs), optionally ending in `*`; `*` alone is any. */
const secretIdPattern = str({
  min: 1,
  max: 2048,
  pattern: /^(?:\*|[A-Za-z0-9/_+=.@:-]+\*?)$/,
  expected: 'a secret name or ARN, or a prefix of one ending in * (such as prod/web/*), or * for all',
});

export const agentSchema = obj({
  listen: withDefault(listenAddress(), DEFAULT_AGENT_LISTEN),
  ttl_seconds: withDefault(int({ min: 0, max: MAX_AGENT_TTL_SECONDS, unit: 'seconds' }), DEFAULT_AGENT_TTL_SECONDS),
  /** Region of Secrets Manager; aws_defaults.region (or the standard chain's) when omitted. */
  region: optional(str({ min: 1, max: 32, pattern: /^[a-z0-9-]+$/, expected: 'an AWS region such as us-east-1' })),
  tokens: arr(obj({ id: name(), token: token(), names: withDefault(arr(secretIdPattern, { min: 1, max: 64 }), ['*']) }), {
    min: 1,
    max: MAX_AGENT_TOKENS,
  }),
});
export type AgentConfig = Infer<typeof agentSchema>;

/**
 * Calls STS AssumeRole with the real `@aws-sdk/client-sts`, signed with a service's source
 * credentials. The endpoint comes from `credentials.sts_endpoint` when set, else the SDK's own
 * resolution (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, `endpoint_url` in the shared config,
 * else the regional endpoint), so the standard variables work unchanged.
 */
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { baseCredentialProvider } from '../aws/base-credentials.js';
import type { SourceCredentialsConfig } from '../config/sections/credentials-section.js';
import { SidekeyError } from '../errors.js';
import type { ServiceCredentials } from './credential-broker.js';
import type { ServiceDefinition } from './service-definition.js';

/**
 * One attempt per AssumeRole call: the cache's own backoff is the retry policy, so failures are
 * visible in its metrics and a throttled STS is not hit by hidden SDK retries on top.
 */
export const STS_MAX_ATTEMPTS = 1;

/** Fetches credentials for one service; the seam the cache calls (tests may pass their own). */
export type AssumeRoleFn = (service: ServiceDefinition) => Promise<ServiceCredentials>;

export interface StsAssumeRoleOptions {
  /** Connection and response timeout for one STS call. */
  readonly timeoutMs: number;
  /** Explicit STS endpoint (`credentials.sts_endpoint`); the SDK's standard resolution otherwise. */
  readonly endpoint?: string | undefined;
}

const ROLE_ACCOUNT = /^arn:[\w-]+:iam::(\d{12}):role\//;

/**
 * Turns the SDK's set-up failures into messages that say which setting to change; STS's own
 * errors (AccessDenied, Throttling, ...) pass through unchanged.
 */
export function explainStsError(error: unknown, service: string): unknown {
  const message = error instanceof Error ? error.message : '';
  if (message === 'Region is missing') {
    return new SidekeyError(
      'UPSTREAM_FAILED',
      `no AWS region for service ${service}: set aws_defaults.region or services.${service}.source_credentials.region (or AWS_REGION)`,
      { cause: error },
    );
  }
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return new SidekeyError(
      'UPSTREAM_FAILED',
      `no base AWS credentials to assume the role of service ${service}: the daemon looked in the standard chain ` +
        '(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the shared files, SSO, web identity, container and instance metadata); ' +
        `configure one of them, or aws_defaults.iam_profile / iam_keys (${message})`,
      { cause: error },
    );
  }
  return error;
}

export class StsAssumeRole {
  readonly #options: StsAssumeRoleOptions;
  /** One client (and one base-credentials provider) per distinct source. */
  readonly #clients = new Map<string, STSClient>();

  constructor(options: StsAssumeRoleOptions) {
    this.#options = options;
  }

  readonly assume: AssumeRoleFn = async (service) => {
    const role = service.config.assumed_role;
    const client = this.#client(service.source);
    const response = await client
      .send(
        new AssumeRoleCommand({
          RoleArn: role.RoleArn,
          RoleSessionName: service.sessionName,
          DurationSeconds: role.DurationSeconds,
          ExternalId: role.ExternalId,
          Policy: role.Policy,
          PolicyArns: role.PolicyArns?.map((arn) => ({ arn })),
          Tags: role.Tags?.map((tag) => ({ Key: tag.Key, Value: tag.Value })),
          SourceIdentity: role.SourceIdentity,
        }),
      )
      .catch((error: unknown) => {
        throw explainStsError(error, service.name);
      });
    const c = response.Credentials;
    if (
      !c?.AccessKeyId ||
      !c.SecretAccessKey ||
      !c.SessionToken ||
      !(c.Expiration instanceof Date) ||
      Number.isNaN(c.Expiration.getTime())
    ) {
      throw new SidekeyError('UPSTREAM_FAILED', `STS AssumeRole for service ${service.name} returned no usable credentials`);
    }
    const accountId = ROLE_ACCOUNT.exec(role.RoleArn)?.[1];
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
      expiration: c.Expiration,
      roleArn: role.RoleArn,
      sessionName: service.sessionName,
      ...(accountId ? { accountId } : {}),
      ...((response.SourceIdentity ?? role.SourceIdentity) ? { sourceIdentity: response.SourceIdentity ?? role.SourceIdentity } : {}),
    };
  };

  #client(source: SourceCredentialsConfig | undefined): STSClient {
    const key = JSON.stringify(source ?? null);
    let client = this.#clients.get(key);
    if (!client) {
      const { timeoutMs, endpoint } = this.#options;
      client = new STSClient({
        credentials: baseCredentialProvider(source),
        maxAttempts: STS_MAX_ATTEMPTS,
        requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
        ...(source?.region ? { region: source.region } : {}),
        ...(endpoint ? { endpoint } : {}),
      });
      this.#clients.set(key, client);
    }
    return client;
  }

  /** Drops clients whose source no longer appears (after a reload). */
  retain(sources: Iterable<SourceCredentialsConfig | undefined>): void {
    const keep = new Set([...sources].map((s) => JSON.stringify(s ?? null)));
    for (const [key, client] of this.#clients) {
      if (!keep.has(key)) {
        client.destroy();
        this.#clients.delete(key);
      }
    }
  }

  destroy(): void {
    for (const client of this.#clients.values()) client.destroy();
    this.#clients.clear();
  }
}

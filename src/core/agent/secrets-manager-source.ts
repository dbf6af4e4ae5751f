/**
 * GetSecretValue through the real AWS SDK client, answered in the Secrets Manager Agent's JSON
 * (`ARN`, `Name`, `VersionId`, `SecretString` or `SecretBinary` in base64, `VersionStages`,
 * `CreatedDate` as seconds with a fraction, in a string). Failures become AgentErrors as the agent
 * reports them: Secrets Manager's own status and code, 504 `TimeoutError`, 502 `ConnectionError`.
 * The endpoint follows the standard settings (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`).
 */
import { GetSecretValueCommand, SecretsManagerClient, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { AgentError, type SecretQuery } from './agent-answer.js';

/** How long one GetSecretValue may take, in ms, before the caller gets 504. */
export const SECRETS_MANAGER_TIMEOUT_MS = 5000;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

export interface SecretsManagerSourceOptions {
  readonly region?: string | undefined;
  readonly credentials: AwsCredentialIdentityProvider;
}

export function secretsManagerSource(options: SecretsManagerSourceOptions): { fetch(query: SecretQuery): Promise<string>; close(): void } {
  const client = new SecretsManagerClient({
    ...(options.region ? { region: options.region } : {}),
    credentials: options.credentials,
    requestHandler: { requestTimeout: SECRETS_MANAGER_TIMEOUT_MS },
  });
  return {
    async fetch(query) {
      try {
        const out = await client.send(
          new GetSecretValueCommand({
            SecretId: query.secretId,
            ...(query.versionId ? { VersionId: query.versionId } : {}),
            ...(query.versionStage ? { VersionStage: query.versionStage } : {}),
          }),
        );
        return JSON.stringify({
          ARN: out.ARN,
          Name: out.Name,
          VersionId: out.VersionId,
          ...(out.SecretString !== undefined ? { SecretString: out.SecretString } : {}),
          ...(out.SecretBinary !== undefined ? { SecretBinary: Buffer.from(out.SecretBinary).toString('base64') } : {}),
          ...(out.VersionStages !== undefined ? { VersionStages: out.VersionStages } : {}),
          CreatedDate: out.CreatedDate === undefined ? undefined : String(out.CreatedDate.getTime() / 1000),
        });
      } catch (error) {
        if (error instanceof SecretsManagerServiceException)
          throw new AgentError(error.$metadata.httpStatusCode ?? 500, error.name, error.message);
        const e = error as NodeJS.ErrnoException;
        if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') throw new AgentError(504, 'TimeoutError', 'Timeout');
        if (e.code !== undefined && NETWORK_CODES.has(e.code)) throw new AgentError(502, 'ConnectionError', 'Read Error');
        throw new AgentError(500, 'InternalFailure', '');
      }
    },
    close: () => client.destroy(),
  };
}

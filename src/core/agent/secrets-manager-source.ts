/**
 * GetSecretValue through the real AWS SDK client, answered in the Secrets Manager Agent's JSON
 * (`ARN`, `Name`, `VersionId`, `SecretString` or `SecretBinary` in base64, `VersionStages`,
 * `CreatedDate` as seconds with a fraction, in a string). Failures become AgentErrors as the agent
 * reports them (source-failure.ts). The endpoint follows the standard settings
 * (`AWS_ENDPOINT_URL_SECRETS_MANAGER`, `AWS_ENDPOINT_URL`).
 */
import { GetSecretValueCommand, SecretsManagerClient, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import type { SecretQuery } from './agent-answer.js';
import { sourceFailure } from './source-failure.js';
import { type SourceOptions, sourceClientConfig } from './source-options.js';

export interface SecretsManagerSource {
  fetch(query: SecretQuery): Promise<string>;
  close(): void;
}

export function secretsManagerSource(options: SourceOptions): SecretsManagerSource {
  const client = new SecretsManagerClient(sourceClientConfig(options));
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
        throw sourceFailure(error, SecretsManagerServiceException);
      }
    },
    close: () => client.destroy(),
  };
}

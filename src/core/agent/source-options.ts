/** What the agent's sources (Secrets Manager, Parameter Store) are built from, and the SDK client settings they share. */
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { SOURCE_TIMEOUT_MS } from './source-failure.js';

export interface SourceOptions {
  readonly region?: string | undefined;
  readonly credentials: AwsCredentialIdentityProvider;
}

/** An SDK client's settings: the region when one is set (else the standard chain's), the credentials, the call timeout. */
export function sourceClientConfig(options: SourceOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    credentials: options.credentials,
    requestHandler: { requestTimeout: SOURCE_TIMEOUT_MS },
  };
}

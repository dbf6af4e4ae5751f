/**
 * GetParameter through the real AWS SDK client (`@aws-sdk/client-ssm`), answered as GetParameter's
 * own JSON: `{"Parameter": {ARN, DataType, LastModifiedDate (epoch seconds), Name, Selector,
 * SourceResult, Type, Value, Version}}`, which is what code written for the Parameters and Secrets
 * Lambda extension reads (`.Parameter.Value`). A version or label travels in the name
 * (`name:3`, `name:prod`), as GetParameter takes it. Failures become AgentErrors
 * (source-failure.ts). The endpoint follows the standard settings (`AWS_ENDPOINT_URL_SSM`,
 * `AWS_ENDPOINT_URL`).
 */
import { GetParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import type { SourceOptions } from './secrets-manager-source.js';
import { SOURCE_TIMEOUT_MS, sourceFailure } from './source-failure.js';

/** GetParameter's inputs: the name with any `:version` or `:label` selector, and whether to decrypt. */
export interface ParameterQuery {
  readonly name: string;
  readonly withDecryption: boolean;
}

export interface ParameterStoreSource {
  fetch(query: ParameterQuery): Promise<string>;
  close(): void;
}

export function parameterStoreSource(options: SourceOptions): ParameterStoreSource {
  const client = new SSMClient({
    ...(options.region ? { region: options.region } : {}),
    credentials: options.credentials,
    requestHandler: { requestTimeout: SOURCE_TIMEOUT_MS },
  });
  return {
    async fetch(query) {
      try {
        const out = await client.send(new GetParameterCommand({ Name: query.name, WithDecryption: query.withDecryption }));
        const p = out.Parameter ?? {};
        return JSON.stringify({
          Parameter: {
            ARN: p.ARN,
            DataType: p.DataType,
            LastModifiedDate: p.LastModifiedDate === undefined ? undefined : p.LastModifiedDate.getTime() / 1000,
            Name: p.Name,
            Selector: p.Selector ?? null,
            SourceResult: p.SourceResult ?? null,
            Type: p.Type,
            Value: p.Value,
            Version: p.Version,
          },
        });
      } catch (error) {
        throw sourceFailure(error, SSMServiceException);
      }
    },
    close: () => client.destroy(),
  };
}

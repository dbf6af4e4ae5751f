/**
 * GetParameter and GetParametersByPath through the real AWS SDK client (`@aws-sdk/client-ssm`), answered as GetParameter's
 * own JSON: `{"Parameter": {ARN, DataType, LastModifiedDate (epoch seconds), Name, Selector,
 * SourceResult, Type, Value, Version}}`, which is what code written for the Parameters and Secrets
 * Lambda extension reads (`.Parameter.Value`). A version or label travels in the name
 * (`name:3`, `name:prod`), as GetParameter takes it. Failures become AgentErrors
 * (source-failure.ts). The endpoint follows the standard settings (`AWS_ENDPOINT_URL_SSM`,
 * `AWS_ENDPOINT_URL`).
 */
import { GetParameterCommand, GetParametersByPathCommand, type Parameter, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { AgentError } from './agent-answer.js';
import { sourceFailure } from './source-failure.js';
import { type SourceOptions, sourceClientConfig } from './source-options.js';

/** GetParameter's inputs: the name with any `:version` or `:label` selector, and whether to decrypt. */
export interface ParameterQuery {
  readonly name: string;
  readonly withDecryption: boolean;
}

/** GetParametersByPath's inputs. */
export interface PathQuery {
  readonly path: string;
  readonly recursive: boolean;
  readonly withDecryption: boolean;
}

/** The most parameters one by-path answer holds; past it the caller is asked to narrow the path. */
export const MAX_PARAMETERS_BY_PATH = 500;

export interface ParameterStoreSource {
  fetch(query: ParameterQuery): Promise<string>;
  /** Every parameter under a path (all pages), as `{"Parameters": [...]}` in GetParameter's shape. */
  fetchByPath(query: PathQuery): Promise<string>;
  close(): void;
}

function shape(p: Parameter): Record<string, unknown> {
  return {
    ARN: p.ARN,
    DataType: p.DataType,
    LastModifiedDate: p.LastModifiedDate === undefined ? undefined : p.LastModifiedDate.getTime() / 1000,
    Name: p.Name,
    Selector: p.Selector ?? null,
    SourceResult: p.SourceResult ?? null,
    Type: p.Type,
    Value: p.Value,
    Version: p.Version,
  };
}

export function parameterStoreSource(options: SourceOptions): ParameterStoreSource {
  const client = new SSMClient(sourceClientConfig(options));
  return {
    async fetch(query) {
      try {
        const out = await client.send(new GetParameterCommand({ Name: query.name, WithDecryption: query.withDecryption }));
        return JSON.stringify({ Parameter: shape(out.Parameter ?? {}) });
      } catch (error) {
        throw sourceFailure(error, SSMServiceException);
      }
    },
    async fetchByPath(query) {
      const parameters: Parameter[] = [];
      let next: string | undefined;
      try {
        do {
          const out = await client.send(
            new GetParametersByPathCommand({
              Path: query.path,
              Recursive: query.recursive,
              WithDecryption: query.withDecryption,
              ...(next ? { NextToken: next } : {}),
            }),
          );
          parameters.push(...(out.Parameters ?? []));
          next = out.NextToken;
        } while (next && parameters.length <= MAX_PARAMETERS_BY_PATH);
      } catch (error) {
        throw sourceFailure(error, SSMServiceException);
      }
      if (parameters.length > MAX_PARAMETERS_BY_PATH)
        throw new AgentError(
          400,
          'InvalidParameterException',
          `more than ${MAX_PARAMETERS_BY_PATH} parameters under ${query.path}; read a narrower path`,
        );
      return JSON.stringify({ Parameters: parameters.map(shape) });
    },
    close: () => client.destroy(),
  };
}

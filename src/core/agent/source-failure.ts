/**
 * A failed call to Secrets Manager or Parameter Store as the agents report it: the service's own
 * status and error code, 504 `TimeoutError` when it took too long, 502 `ConnectionError` when it
 * could not be reached, and a bare `InternalFailure` for anything else (nothing safe to say).
 */
import { AgentError } from './agent-answer.js';

/** How long one call to a source may take, in ms, before the caller gets 504. */
export const SOURCE_TIMEOUT_MS = 5000;
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE']);

interface ServiceError extends Error {
  readonly $metadata: { readonly httpStatusCode?: number | undefined };
}

/** `serviceError` is the client's exception base class (SecretsManagerServiceException, SSMServiceException). */
export function sourceFailure(error: unknown, serviceError: abstract new (...args: never[]) => ServiceError): AgentError {
  if (error instanceof serviceError) return new AgentError(error.$metadata.httpStatusCode ?? 500, error.name, error.message);
  const e = error as NodeJS.ErrnoException;
  if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT') return new AgentError(504, 'TimeoutError', 'Timeout');
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return new AgentError(502, 'ConnectionError', 'Read Error');
  return new AgentError(500, 'InternalFailure', '');
}

/**
 * The one error type whose message a Postgres peer may see. It writes itself as an ErrorResponse
 * with S, V, C (SQLSTATE) and M, plus D/H when given. Everything else that goes wrong inside the
 * proxy is an internal error: logged in full, answered with a generic XX000.
 */
import { encodeErrorResponse } from './backend-messages.js';
import { type Severity, SqlState, type SqlStateCode } from './sql-state.js';

export interface PgPeerErrorOptions {
  readonly severity?: Severity;
  readonly detail?: string;
  /** What the user should change to fix it. */
  readonly hint?: string;
  readonly cause?: unknown;
}

export class PgPeerError extends Error {
  /** SQLSTATE; a string because upstream errors are forwarded with their own codes. */
  readonly sqlState: SqlStateCode | string;
  readonly severity: Severity;
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(sqlState: SqlStateCode | string, message: string, options: PgPeerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgPeerError';
    this.sqlState = sqlState;
    this.severity = options.severity ?? 'FATAL';
    this.detail = options.detail;
    this.hint = options.hint;
  }

  toErrorResponse(): Buffer {
    return encodeErrorResponse({
      severity: this.severity,
      code: this.sqlState,
      message: this.message,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    });
  }
}

/** The peer-safe form of any error: itself when it is a PgPeerError, else a generic internal error. */
export function toPeerError(error: unknown): PgPeerError {
  if (error instanceof PgPeerError) return error;
  return new PgPeerError(SqlState.INTERNAL_ERROR, 'internal error in the sidekey Postgres proxy; its log has the details', {
    cause: error,
  });
}

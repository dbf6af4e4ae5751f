/**
 * The error a Postgres peer may see: a catalogue error (core/errors.ts) whose kind has a SQLSTATE,
 * written as an ErrorResponse with S, V, C and M, plus D/H when given. Everything else that goes
 * wrong inside the proxy is an internal error: logged in full, answered with the catalogue's
 * INTERNAL SQLSTATE (XX000) and a generic message.
 */
import { ErrorCodes, type ErrorKind, SidekeyError } from '../errors.js';
import { encodeErrorResponse } from './backend-messages.js';

/** ErrorResponse severities (the non-localized V field takes the same values). */
export type Severity = 'ERROR' | 'FATAL' | 'PANIC';

/** The catalogue kinds that have a SQLSTATE, so a Postgres client can be told them. */
export type PgErrorKind = {
  [K in ErrorKind]: (typeof ErrorCodes)[K] extends { readonly sqlState: string } ? K : never;
}[ErrorKind];

export interface PgPeerErrorOptions {
  readonly severity?: Severity;
  readonly detail?: string;
  /** What the user should change to fix it. */
  readonly hint?: string;
  readonly cause?: unknown;
  /** An upstream server's own SQLSTATE, forwarded as it sent it instead of the kind's. */
  readonly sqlState?: string;
}

export class PgPeerError extends SidekeyError {
  readonly sqlState: string;
  readonly severity: Severity;
  readonly detail: string | undefined;
  readonly hint: string | undefined;

  constructor(kind: PgErrorKind, message: string, options: PgPeerErrorOptions = {}) {
    super(kind, message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'PgPeerError';
    this.sqlState = options.sqlState ?? ErrorCodes[kind].sqlState;
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
  return new PgPeerError('INTERNAL', 'internal error in the sidekey Postgres proxy; its log has the details', { cause: error });
}

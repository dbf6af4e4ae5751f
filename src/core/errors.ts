/**
 * The one error catalogue. Every error sidekey raises on purpose carries a stable code from here,
 * so logs, tests and users can match on it; messages may improve, codes do not change. Each code
 * is raised somewhere and listed in docs/errors.md (test/unit/error-catalogue.test.ts checks both).
 *
 * `status` is the HTTP status a front answers with when the error reaches a caller; `expose` says
 * whether the message is safe to show to that caller (it never contains a secret, but an internal
 * error may name files or hosts that a remote caller has no business seeing).
 */
export const ErrorCodes = {
  // configuration and start-up
  CONFIG_INVALID: { code: 'SK_CONFIG_INVALID', status: 500, expose: false },
  CONFIG_UNREADABLE: { code: 'SK_CONFIG_UNREADABLE', status: 500, expose: false },
  CONFIG_SUBSTITUTION: { code: 'SK_CONFIG_SUBSTITUTION', status: 500, expose: false },
  USAGE: { code: 'SK_USAGE', status: 400, expose: true },
  LISTEN_FAILED: { code: 'SK_LISTEN_FAILED', status: 500, expose: false },
  FILE_PERMISSIONS: { code: 'SK_FILE_PERMISSIONS', status: 500, expose: false },

  // callers of any HTTP front
  UNAUTHORIZED: { code: 'SK_UNAUTHORIZED', status: 401, expose: true },
  FORBIDDEN: { code: 'SK_FORBIDDEN', status: 403, expose: true },
  FORWARDED_REFUSED: { code: 'SK_FORWARDED_REFUSED', status: 403, expose: true },
  HOST_REFUSED: { code: 'SK_HOST_REFUSED', status: 403, expose: true },
  NOT_FOUND: { code: 'SK_NOT_FOUND', status: 404, expose: true },
  METHOD_NOT_ALLOWED: { code: 'SK_METHOD_NOT_ALLOWED', status: 405, expose: true },
  BAD_REQUEST: { code: 'SK_BAD_REQUEST', status: 400, expose: true },
  PAYLOAD_TOO_LARGE: { code: 'SK_PAYLOAD_TOO_LARGE', status: 413, expose: true },
  RATE_LIMITED: { code: 'SK_RATE_LIMITED', status: 429, expose: true },
  INTERNAL: { code: 'SK_INTERNAL', status: 500, expose: false },
  SHUTTING_DOWN: { code: 'SK_SHUTTING_DOWN', status: 503, expose: true },

  // credentials core and endpoint
  CREDENTIALS_UNAVAILABLE: { code: 'SK_CREDENTIALS_UNAVAILABLE', status: 503, expose: true },
  SERVICE_DISABLED: { code: 'SK_SERVICE_DISABLED', status: 403, expose: true },
  UPSTREAM_FAILED: { code: 'SK_UPSTREAM_FAILED', status: 502, expose: false },

  // secrets store
  SECRET_NOT_FOUND: { code: 'SK_SECRET_NOT_FOUND', status: 404, expose: true },
  SECRET_REVOKED: { code: 'SK_SECRET_REVOKED', status: 410, expose: true },
  SECRET_CONFLICT: { code: 'SK_SECRET_CONFLICT', status: 409, expose: true },
  SECRET_INTEGRITY: { code: 'SK_SECRET_INTEGRITY', status: 500, expose: false },
  KEYRING_FAILED: { code: 'SK_KEYRING_FAILED', status: 500, expose: false },
  STORE_FAILED: { code: 'SK_STORE_FAILED', status: 500, expose: false },

  // metadata guard
  IMDS_AMBIGUOUS_REQUEST: { code: 'SK_IMDS_AMBIGUOUS_REQUEST', status: 400, expose: true },
  IMDS_DENIED: { code: 'SK_IMDS_DENIED', status: 403, expose: true },

  // postgres proxy (its clients get SQLSTATEs: core/pg/sql-state.ts, PgPeerError)
  PG_TLS: { code: 'SK_PG_TLS', status: 502, expose: true },

  // hygiene
  CHECK_FAILED: { code: 'SK_CHECK_FAILED', status: 500, expose: true },
  NAME_INVALID: { code: 'SK_NAME_INVALID', status: 400, expose: true },
  SETUP_FAILED: { code: 'SK_SETUP_FAILED', status: 500, expose: false },
} as const;

export type ErrorKind = keyof typeof ErrorCodes;
export type ErrorCode = (typeof ErrorCodes)[ErrorKind]['code'];

export interface SidekeyErrorOptions {
  cause?: unknown;
  /** Extra non-secret facts for logs (a key path, a file name). Never put secrets here. */
  details?: Readonly<Record<string, unknown>>;
}

export class SidekeyError extends Error {
  readonly kind: ErrorKind;
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` may be shown to a remote caller. */
  readonly expose: boolean;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(kind: ErrorKind, message: string, options: SidekeyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const entry = ErrorCodes[kind];
    this.name = 'SidekeyError';
    this.kind = kind;
    this.code = entry.code;
    this.status = entry.status;
    this.expose = entry.expose;
    this.details = options.details;
  }
}

export function isSidekeyError(value: unknown, kind?: ErrorKind): value is SidekeyError {
  return value instanceof SidekeyError && (kind === undefined || value.kind === kind);
}

/** A message safe for a remote caller: the error's own when exposable, else a generic one. */
export function publicMessage(error: unknown): string {
  if (error instanceof SidekeyError && error.expose) return error.message;
  return 'internal error; the daemon log has the details';
}

/**
 * The one error catalogue. Every error sidekey raises on purpose carries a stable code from here,
 * so logs, tests and users can match on it; messages may improve, codes do not change. Each entry
 * carries its form in each protocol sidekey speaks (HTTP status, AWS error code, SQLSTATE), and each
 * protocol has one writer: net/error-reply.ts for HTTP (sidekey's form or the AWS form) and
 * core/pg/pg-peer-error.ts for Postgres. Each code is raised somewhere and listed in docs/errors.md
 * (test/unit/error-catalogue.test.ts checks both). A plain Error in src/ is a broken invariant.
 *
 * `expose` says whether the message is safe to show to a caller (it never contains a secret, but an
 * internal error may name files or hosts that a remote caller has no business seeing).
 */
interface CatalogueEntry {
  readonly code: `SK_${string}`;
  /** The HTTP status a front answers with. */
  readonly status: number;
  /** Whether the message may be shown to a remote caller. */
  readonly expose: boolean;
  /** The `Code` in an AWS-protocol answer (the credential endpoint), which SDKs show to their users. */
  readonly aws: string;
  /** The SQLSTATE a Postgres client gets, for errors that reach one. */
  readonly sqlState?: string;
}

export const ErrorCodes = {
  // configuration and start-up
  CONFIG_INVALID: { code: 'SK_CONFIG_INVALID', status: 500, expose: false, aws: 'ConfigInvalid' },
  CONFIG_UNREADABLE: { code: 'SK_CONFIG_UNREADABLE', status: 500, expose: false, aws: 'ConfigUnreadable' },
  CONFIG_SUBSTITUTION: { code: 'SK_CONFIG_SUBSTITUTION', status: 500, expose: false, aws: 'ConfigSubstitution' },
  USAGE: { code: 'SK_USAGE', status: 400, expose: true, aws: 'InvalidUsage' },
  LISTEN_FAILED: { code: 'SK_LISTEN_FAILED', status: 500, expose: false, aws: 'ListenFailed' },
  FILE_PERMISSIONS: { code: 'SK_FILE_PERMISSIONS', status: 500, expose: false, aws: 'FilePermissions' },

  // callers of any HTTP front
  UNAUTHORIZED: { code: 'SK_UNAUTHORIZED', status: 401, expose: true, aws: 'Unauthorized' },
  FORBIDDEN: { code: 'SK_FORBIDDEN', status: 403, expose: true, aws: 'AccessDenied' },
  FORWARDED_REFUSED: { code: 'SK_FORWARDED_REFUSED', status: 403, expose: true, aws: 'ForwardedRequestRefused' },
  HOST_REFUSED: { code: 'SK_HOST_REFUSED', status: 403, expose: true, aws: 'HostRefused' },
  NOT_FOUND: { code: 'SK_NOT_FOUND', status: 404, expose: true, aws: 'NotFound' },
  METHOD_NOT_ALLOWED: { code: 'SK_METHOD_NOT_ALLOWED', status: 405, expose: true, aws: 'MethodNotAllowed' },
  BAD_REQUEST: { code: 'SK_BAD_REQUEST', status: 400, expose: true, aws: 'BadRequest' },
  PAYLOAD_TOO_LARGE: { code: 'SK_PAYLOAD_TOO_LARGE', status: 413, expose: true, aws: 'PayloadTooLarge' },
  RATE_LIMITED: { code: 'SK_RATE_LIMITED', status: 429, expose: true, aws: 'Throttling' },
  INTERNAL: { code: 'SK_INTERNAL', status: 500, expose: false, aws: 'InternalError', sqlState: 'XX000' },
  CONFLICT: { code: 'SK_CONFLICT', status: 409, expose: true, aws: 'Conflict' },
  SHUTTING_DOWN: { code: 'SK_SHUTTING_DOWN', status: 503, expose: true, aws: 'ServiceUnavailable', sqlState: '57P01' },

  // credential broker and endpoint
  CREDENTIALS_UNAVAILABLE: { code: 'SK_CREDENTIALS_UNAVAILABLE', status: 503, expose: true, aws: 'CredentialsUnavailable' },
  SERVICE_DISABLED: { code: 'SK_SERVICE_DISABLED', status: 403, expose: true, aws: 'ServiceDisabled' },
  TOKEN_ROTATION_FAILED: { code: 'SK_TOKEN_ROTATION_FAILED', status: 500, expose: true, aws: 'TokenRotationFailed' },
  UPSTREAM_FAILED: { code: 'SK_UPSTREAM_FAILED', status: 502, expose: false, aws: 'UpstreamFailed' },

  // secrets store
  SECRET_NOT_FOUND: { code: 'SK_SECRET_NOT_FOUND', status: 404, expose: true, aws: 'ResourceNotFoundException' },
  SECRET_REVOKED: { code: 'SK_SECRET_REVOKED', status: 410, expose: true, aws: 'SecretRevoked' },
  SECRET_CONFLICT: { code: 'SK_SECRET_CONFLICT', status: 409, expose: true, aws: 'ConflictException' },
  SECRET_INTEGRITY: { code: 'SK_SECRET_INTEGRITY', status: 500, expose: false, aws: 'SecretIntegrity' },
  KEYRING_FAILED: { code: 'SK_KEYRING_FAILED', status: 500, expose: false, aws: 'KeyringFailed' },
  STORE_FAILED: { code: 'SK_STORE_FAILED', status: 500, expose: false, aws: 'StoreFailed' },

  // metadata guard
  IMDS_AMBIGUOUS_REQUEST: { code: 'SK_IMDS_AMBIGUOUS_REQUEST', status: 400, expose: true, aws: 'AmbiguousRequest' },
  IMDS_DENIED: { code: 'SK_IMDS_DENIED', status: 403, expose: true, aws: 'AccessDenied' },

  // postgres proxy: its clients get an ErrorResponse with the SQLSTATE (core/pg/pg-peer-error.ts)
  PG_TLS: { code: 'SK_PG_TLS', status: 502, expose: true, aws: 'TlsSetupFailed' },
  PG_AUTH_REFUSED: { code: 'SK_PG_AUTH_REFUSED', status: 401, expose: true, aws: 'Unauthorized', sqlState: '28000' },
  PG_PASSWORD_REFUSED: { code: 'SK_PG_PASSWORD_REFUSED', status: 401, expose: true, aws: 'Unauthorized', sqlState: '28P01' },
  PG_UPSTREAM_UNREACHABLE: { code: 'SK_PG_UPSTREAM_UNREACHABLE', status: 502, expose: true, aws: 'UpstreamFailed', sqlState: '08001' },
  PG_CONNECTION_FAILURE: { code: 'SK_PG_CONNECTION_FAILURE', status: 502, expose: true, aws: 'UpstreamFailed', sqlState: '08006' },
  PG_PROTOCOL_VIOLATION: { code: 'SK_PG_PROTOCOL_VIOLATION', status: 400, expose: true, aws: 'BadRequest', sqlState: '08P01' },
  PG_UNSUPPORTED: { code: 'SK_PG_UNSUPPORTED', status: 400, expose: true, aws: 'BadRequest', sqlState: '0A000' },
  PG_TOO_MANY_CONNECTIONS: { code: 'SK_PG_TOO_MANY_CONNECTIONS', status: 503, expose: true, aws: 'Throttling', sqlState: '53300' },
  PG_UPSTREAM_REFUSED: { code: 'SK_PG_UPSTREAM_REFUSED', status: 502, expose: true, aws: 'UpstreamFailed', sqlState: '08001' },

  // hygiene
  CHECK_FAILED: { code: 'SK_CHECK_FAILED', status: 500, expose: true, aws: 'CheckFailed' },
  NAME_INVALID: { code: 'SK_NAME_INVALID', status: 400, expose: true, aws: 'InvalidName' },
  SETUP_FAILED: { code: 'SK_SETUP_FAILED', status: 500, expose: false, aws: 'SetupFailed' },
} as const satisfies Record<string, CatalogueEntry>;

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

/** The SQLSTATE codes the proxy sends (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
export const SqlState = {
  INVALID_AUTHORIZATION: '28000',
  INVALID_PASSWORD: '28P01',
  CANNOT_CONNECT: '08001',
  CONNECTION_FAILURE: '08006',
  PROTOCOL_VIOLATION: '08P01',
  FEATURE_NOT_SUPPORTED: '0A000',
  TOO_MANY_CONNECTIONS: '53300',
  ADMIN_SHUTDOWN: '57P01',
  INTERNAL_ERROR: 'XX000',
} as const;

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];

/** ErrorResponse severities (the non-localized V field takes the same values). */
export type Severity = 'ERROR' | 'FATAL' | 'PANIC';

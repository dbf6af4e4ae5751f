/**
 * Wire constants of the PostgreSQL frontend/backend protocol 3.0
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html).
 */

/** Codes that take the place of a protocol version in the first packet. */
export const RequestCode = {
  /** 3.0, as (major << 16) | minor. */
  PROTOCOL_3_0: 196608,
  CANCEL: 80877102,
  SSL: 80877103,
  GSSENC: 80877104,
} as const;

export const PROTOCOL_MAJOR_3 = 3;

/** Backend message type bytes the proxy reads or writes. */
export const BackendType = {
  AUTHENTICATION: 0x52, // 'R'
  PARAMETER_STATUS: 0x53, // 'S'
  BACKEND_KEY_DATA: 0x4b, // 'K'
  READY_FOR_QUERY: 0x5a, // 'Z'
  ERROR_RESPONSE: 0x45, // 'E'
  NOTICE_RESPONSE: 0x4e, // 'N'
  NEGOTIATE_PROTOCOL_VERSION: 0x76, // 'v'
} as const;

/** Frontend message type bytes the proxy reads or writes. */
export const FrontendType = {
  /** PasswordMessage, SASLInitialResponse and SASLResponse share 'p'. */
  PASSWORD: 0x70, // 'p'
  TERMINATE: 0x58, // 'X'
} as const;

/** Authentication request codes inside an 'R' message. */
export const AuthCode = {
  OK: 0,
  KERBEROS_V5: 2,
  CLEARTEXT: 3,
  MD5: 5,
  GSS: 7,
  GSS_CONTINUE: 8,
  SSPI: 9,
  SASL: 10,
  SASL_CONTINUE: 11,
  SASL_FINAL: 12,
} as const;

/** Single-byte answers to SSLRequest and GSSENCRequest. */
export const SSL_ACCEPT = 0x53; // 'S'
export const SSL_REFUSE = 0x4e; // 'N'

/** ReadyForQuery transaction status byte for "idle". */
export const TX_IDLE = 0x49; // 'I'

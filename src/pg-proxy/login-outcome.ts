/** How a refused or failed login is counted and audited, from the error and the phase it ended in. */
import { ErrorCodes } from '../core/errors.js';
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { PeerClosedError } from './frame-socket.js';
import type { LoginOutcome } from './pg-metrics.js';
import type { SessionState } from './proxy-session.js';

export function loginOutcome(error: unknown, state: SessionState): LoginOutcome {
  if (error instanceof PeerClosedError) return 'client_gone';
  if (!(error instanceof PgPeerError)) return 'internal_error';
  const code = error.sqlState;
  // By SQLSTATE, not kind: an upstream's own refusal is forwarded with its code.
  if (code === ErrorCodes.PG_TOO_MANY_CONNECTIONS.sqlState) return 'too_many_connections';
  if (code === ErrorCodes.SHUTTING_DOWN.sqlState) return 'shutting_down';
  if (code.startsWith('28')) return state === 'logging-in' ? 'upstream_auth_failed' : 'client_auth_failed';
  if (code.startsWith('08') && state === 'logging-in') return 'upstream_unreachable';
  if (code === ErrorCodes.PG_PROTOCOL_VIOLATION.sqlState || code === ErrorCodes.PG_UNSUPPORTED.sqlState) return 'protocol_error';
  return 'refused';
}

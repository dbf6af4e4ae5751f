/** How a refused or failed login is counted and audited, from the error and the phase it ended in. */
import { PgPeerError } from '../core/pg/pg-peer-error.js';
import { SqlState } from '../core/pg/sql-state.js';
import { PeerClosedError } from './frame-socket.js';
import type { LoginOutcome } from './pg-metrics.js';
import type { SessionState } from './proxy-session.js';

export function loginOutcome(error: unknown, state: SessionState): LoginOutcome {
  if (error instanceof PeerClosedError) return 'client_gone';
  if (!(error instanceof PgPeerError)) return 'internal_error';
  const code = error.sqlState;
  if (code === SqlState.TOO_MANY_CONNECTIONS) return 'too_many_connections';
  if (code === SqlState.ADMIN_SHUTDOWN) return 'shutting_down';
  if (code.startsWith('28')) return state === 'logging-in' ? 'upstream_auth_failed' : 'client_auth_failed';
  if (code.startsWith('08') && state === 'logging-in') return 'upstream_unreachable';
  if (code === SqlState.PROTOCOL_VIOLATION || code === SqlState.FEATURE_NOT_SUPPORTED) return 'protocol_error';
  return 'refused';
}

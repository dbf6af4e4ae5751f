/**
 * The two lines every Postgres session writes: its audit line (`pg.login`, for every login
 * attempt, refused ones too) and the line when a session that relayed ends.
 */
import { audit } from '../core/log/audit.js';
import type { Logger } from '../core/log/logger.js';
import type { RelayCounters } from './byte-relay.js';

export type ListenerMode = 'client' | 'server';

/** The audit event of every login attempt. */
export const LOGIN_AUDIT_EVENT = 'pg.login';

/** The message of the line a session writes when it ends. */
export const SESSION_CLOSED_MESSAGE = 'postgres session closed';

/** Where a session runs: its listener's mode, the target and the DB user. */
export interface SessionPlace {
  readonly mode: ListenerMode;
  readonly target: string;
  readonly db_user: string;
}

// The place's fields are written out, not spread: Node 20 builds a spread object on a slow path
// that costs about a microsecond, and these lines are written for every connection.

/** The audit line of a successful login (`reused`: the upstream connection came from the pool). */
export function loginLine(log: Logger, place: SessionPlace, reused: boolean, client: string, localUser: string): void {
  audit(log, LOGIN_AUDIT_EVENT, {
    mode: place.mode,
    target: place.target,
    db_user: place.db_user,
    outcome: 'ok',
    upstream: reused ? 'pooled' : 'new',
    client,
    local_user: localUser,
  });
}

/** The line of a session that relayed and ended. */
export function sessionClosedLine(
  log: Logger,
  place: SessionPlace,
  client: string,
  durationMs: number,
  reused: boolean,
  counters: RelayCounters,
): void {
  log.info(
    {
      mode: place.mode,
      target: place.target,
      db_user: place.db_user,
      client,
      duration_ms: durationMs,
      reused_upstream: reused,
      toUpstream: counters.toUpstream,
      toClient: counters.toClient,
    },
    SESSION_CLOSED_MESSAGE,
  );
}

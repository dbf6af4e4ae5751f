/**
 * The loggers for the two lines every Postgres session writes: its audit line (`pg.login`) and
 * the line when it ends. The fields that are the same for every successful login of one listener
 * mode, target and DB user (`audit`, mode, target, db_user, outcome, and whether the upstream
 * connection was pooled or new) are bound once as child-logger bindings, serialized when the
 * child is made, instead of on each line; a session's own fields (client, local user, duration,
 * bytes) are written per line. Refused logins go through the per-mode audit logger with all
 * their fields.
 *
 * Children keep the level their parent had when they were made, so a set is rebuilt when the
 * front's logger changed level since. Targets and DB users come from the config (server mode
 * checks the allow-list and the target's users before a session gets here), so the cache is
 * bounded by the config; a reload clears it.
 */
import { auditLogger } from '../core/log/audit.js';
import type { Logger } from '../core/log/logger.js';

export type ListenerMode = 'client' | 'server';

/** The audit event of every login attempt. */
export const LOGIN_AUDIT_EVENT = 'pg.login';

export interface BoundLines {
  /** `audit: pg.login`, mode, target, db_user, `outcome: ok`, `upstream: pooled`. */
  readonly pooled: Logger;
  /** The same with `upstream: new`. */
  readonly fresh: Logger;
  /** mode, target, db_user. */
  readonly closed: Logger;
}

interface Made<T> {
  readonly level: string;
  readonly value: T;
}

export class SessionLines {
  readonly #log: Logger;
  /** Per mode: the audit logger for attempts refused before a target and DB user were known. */
  readonly #byMode = new Map<ListenerMode, Made<Logger>>();
  /** mode -> target -> DB user -> the bound pair. */
  readonly #bound = new Map<ListenerMode, Map<string, Map<string, Made<BoundLines>>>>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** The audit logger with only `audit` and mode bound. */
  audit(mode: ListenerMode): Logger {
    const known = this.#byMode.get(mode);
    if (known?.level === this.#log.level) return known.value;
    const value = auditLogger(this.#log, LOGIN_AUDIT_EVENT, { mode });
    this.#byMode.set(mode, { level: this.#log.level, value });
    return value;
  }

  /** The loggers bound to a session's mode, target and DB user. */
  bound(mode: ListenerMode, target: string, dbUser: string): BoundLines {
    let targets = this.#bound.get(mode);
    if (!targets) {
      targets = new Map();
      this.#bound.set(mode, targets);
    }
    let users = targets.get(target);
    if (!users) {
      users = new Map();
      targets.set(target, users);
    }
    const known = users.get(dbUser);
    if (known?.level === this.#log.level) return known.value;
    const fixed = { mode, target, db_user: dbUser };
    const value: BoundLines = {
      pooled: auditLogger(this.#log, LOGIN_AUDIT_EVENT, { ...fixed, outcome: 'ok', upstream: 'pooled' }),
      fresh: auditLogger(this.#log, LOGIN_AUDIT_EVENT, { ...fixed, outcome: 'ok', upstream: 'new' }),
      closed: this.#log.child(fixed),
    };
    users.set(dbUser, { level: this.#log.level, value });
    return value;
  }

  /** Forgets every bound logger (a reload: targets and users may have changed). */
  clear(): void {
    this.#bound.clear();
  }
}

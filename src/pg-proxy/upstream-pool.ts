/**
 * Session pooling of upstream connections, in client (direct) mode only. When a client ends its
 * session cleanly (PoolGate says the server is idle and nothing unusual happened), the upstream
 * connection is reset with `DISCARD ALL` and parked under its key: (target, identity, upstream,
 * DB user, database, the client's startup parameters). A new client with the same key gets it
 * back without a new login: no IAM signature, no TLS handshake, no authentication.
 *
 * Bounds: `max_idle` parked connections per target (0 disables pooling), `idle_seconds` before a
 * parked connection is closed, POOL_MAX_AGE_MS of total life. A reload or a stop closes every
 * parked connection; connections of an earlier generation are closed when they come back.
 *
 * Each connection is a PooledConnection (pooled-connection.ts), which reads the reset's answer and
 * watches the parked connection; the reset's time limit and the idle time are deadlines the
 * front's DeadlineSweep checks through `sweep`, not timers.
 */
import type { Logger } from '../core/log/logger.js';
import { POOL_MAX_AGE_MS } from '../core/pg/pg-limits.js';
import type { PooledConnection } from './pooled-connection.js';
import { closeUpstream } from './upstream-link.js';

export interface PoolLimits {
  /** Most parked connections for the target (all keys together); 0 disables pooling. */
  readonly maxIdle: number;
  readonly idleMs: number;
}

/** Where a session's connection may be pooled; decided by the policy (undefined: never). */
export interface PoolSlot {
  readonly target: string;
  readonly key: string;
  readonly limits: PoolLimits;
}

export type PoolReturnOutcome = 'parked' | 'not_clean' | 'full' | 'too_old' | 'reset_failed' | 'stale' | 'closing';
export type PoolIdleEnd = 'idle_timeout' | 'upstream_closed' | 'upstream_spoke';

export interface PoolEvents {
  checkout(target: string, outcome: 'hit' | 'miss'): void;
  returned(target: string, outcome: PoolReturnOutcome): void;
  evicted(target: string, reason: PoolIdleEnd | 'too_old' | 'cleared'): void;
}

export class UpstreamPool {
  readonly #idle = new Map<string, PooledConnection[]>();
  readonly #perTarget = new Map<string, number>();
  readonly #events: PoolEvents;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Connections waiting for their reset's answer (the sweep checks their time limit). */
  readonly #resetting = new Set<PooledConnection>();
  /** Tells the front's DeadlineSweep that a deadline was set. */
  readonly #watch: () => void;
  #generation = 0;
  #closed = false;

  constructor(log: Logger, events: PoolEvents, watch: () => void, now: () => number = Date.now) {
    this.#log = log;
    this.#events = events;
    this.#watch = watch;
    this.#now = now;
  }

  /** A connection sent its reset; returns the time it did (its time limit starts then). */
  resetStarted(conn: PooledConnection): number {
    this.#resetting.add(conn);
    this.#watch();
    return this.#now();
  }

  /**
   * One sweep of the deadlines: resets that took longer than POOL_RESET_TIMEOUT_MS fail, parked
   * connections idle longer than their target's idle time are closed. Returns whether any
   * connection is still resetting or parked.
   */
  sweep(): boolean {
    const now = this.#now();
    for (const conn of this.#resetting) conn.expireIfDue(now);
    for (const list of this.#idle.values()) {
      // Backwards: an eviction removes the connection from its list.
      for (let at = list.length - 1; at >= 0; at--) list[at]?.expireIfDue(now);
    }
    return this.#resetting.size > 0 || this.#idle.size > 0;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Parked connections per target (for the gauge). */
  idleCounts(): Iterable<readonly [string, number]> {
    return this.#perTarget.entries();
  }

  /** A parked connection for the slot (most recently parked first), or undefined. */
  take(slot: PoolSlot): PooledConnection | undefined {
    const list = this.#idle.get(slot.key);
    while (list && list.length > 0) {
      const conn = list.pop() as PooledConnection;
      this.#forget(slot, conn, list);
      if (this.#now() - conn.createdAt >= POOL_MAX_AGE_MS) {
        closeUpstream(conn.link);
        this.#events.evicted(slot.target, 'too_old');
        continue;
      }
      this.#events.checkout(slot.target, 'hit');
      return conn;
    }
    this.#events.checkout(slot.target, 'miss');
    return undefined;
  }

  /**
   * Takes back a connection whose client left. `clean` is the PoolGate's verdict; a clean one is
   * reset and parked, anything else is closed. Never throws.
   */
  giveBack(slot: PoolSlot, conn: PooledConnection, clean: boolean): void {
    const refused = this.#refusal(slot, conn, clean);
    if (refused) this.#close(slot, conn, refused);
    else conn.reset(this, slot);
  }

  #refusal(slot: PoolSlot, conn: PooledConnection, clean: boolean): PoolReturnOutcome | undefined {
    if (this.#closed) return 'closing';
    if (!clean) return 'not_clean';
    if (conn.generation !== this.#generation) return 'stale';
    if (this.#now() - conn.createdAt >= POOL_MAX_AGE_MS) return 'too_old';
    if ((this.#perTarget.get(slot.target) ?? 0) >= slot.limits.maxIdle) return 'full';
    return undefined;
  }

  /** The reset's answer came (or failed): park the connection, or close it. */
  resetDone(conn: PooledConnection, slot: PoolSlot, ok: boolean): void {
    this.#resetting.delete(conn);
    // Checked again: a reload, a stop or other returns may have happened during the reset.
    const refused = ok ? this.#refusal(slot, conn, true) : 'reset_failed';
    if (refused) {
      this.#close(slot, conn, refused);
      return;
    }
    let list = this.#idle.get(slot.key);
    if (!list) {
      list = [];
      this.#idle.set(slot.key, list);
    }
    list.push(conn);
    this.#perTarget.set(slot.target, (this.#perTarget.get(slot.target) ?? 0) + 1);
    conn.park(this.#now(), slot.limits.idleMs);
    this.#watch();
    this.#events.returned(slot.target, 'parked');
  }

  #close(slot: PoolSlot, conn: PooledConnection, outcome: PoolReturnOutcome): void {
    closeUpstream(conn.link);
    this.#events.returned(slot.target, outcome);
  }

  /** A parked connection ended on its own (idle time over, the server spoke or closed). */
  evict(conn: PooledConnection, slot: PoolSlot, reason: PoolIdleEnd): void {
    const list = this.#idle.get(slot.key);
    const at = list?.indexOf(conn) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    this.#forget(slot, conn, list);
    if (reason === 'upstream_closed') conn.link.socket.destroy();
    else closeUpstream(conn.link);
    this.#events.evicted(slot.target, reason);
    this.#log.debug({ target: slot.target, reason }, 'pooled postgres connection closed');
  }

  #forget(slot: PoolSlot, conn: PooledConnection, list: PooledConnection[]): void {
    conn.unpark();
    const left = (this.#perTarget.get(slot.target) ?? 1) - 1;
    if (left > 0) this.#perTarget.set(slot.target, left);
    else this.#perTarget.delete(slot.target);
    if (list.length === 0) this.#idle.delete(slot.key);
  }

  /** Closes every parked connection; connections in use are closed when they come back (a reload). */
  clear(): void {
    this.#generation++;
    for (const [key, list] of [...this.#idle]) {
      for (const conn of list.splice(0)) {
        const slot = conn.slot as PoolSlot;
        this.#forget(slot, conn, list);
        closeUpstream(conn.link);
        this.#events.evicted(slot.target, 'cleared');
      }
      this.#idle.delete(key);
    }
  }

  /** For a stop: closes everything and parks nothing more. */
  close(): void {
    this.#closed = true;
    this.clear();
  }
}

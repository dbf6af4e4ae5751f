/**
 * Paces new upstream logins to a target, for RDS IAM authentication: AWS advises staying below
 * 200 new IAM connections per second per database, and a burst of clients (a deploy, a restart,
 * `pgbench -C`) can exceed that. Logins are spaced at `perSecond`, with up to one second's worth
 * taken at once; a login that would wait longer than `maxWaitMs` is refused rather than queued,
 * so a client hears "too many" quickly instead of timing out. Pool hits are not logins and are
 * never paced. The schedule is the generic cell rate algorithm: no queue and no timer, one
 * number per target.
 */
import { performance } from 'node:perf_hooks';
import { LOGIN_PACE_MAX_WAIT_MS } from './pg-limits.js';
import { PgPeerError } from './pg-peer-error.js';

export class LoginPacer {
  readonly perSecond: number;
  readonly #intervalMs: number;
  /** How far ahead of now the schedule may run before a login has to wait (the burst). */
  readonly #burstMs: number;
  readonly #now: () => number;
  /** When the next login is due if none is waiting (the "theoretical arrival time"). */
  #due: number;

  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.perSecond = perSecond;
    this.#intervalMs = 1000 / perSecond;
    this.#burstMs = 1000 - this.#intervalMs;
    this.#now = now;
    this.#due = now();
  }

  /**
   * Takes a login slot: the milliseconds to wait before logging in (0: at once), or undefined when
   * the wait would exceed `maxWaitMs` (nothing is taken then).
   */
  reserve(maxWaitMs: number): number | undefined {
    const now = this.#now();
    const due = Math.max(this.#due, now);
    const wait = Math.max(0, due - now - this.#burstMs);
    if (wait > maxWaitMs) return undefined;
    this.#due = due + this.#intervalMs;
    return wait;
  }

  /**
   * Waits for the next login slot to `target`; refuses with 53300 when the wait would exceed
   * LOGIN_PACE_MAX_WAIT_MS, and with the signal's reason when the session ends while it waits.
   */
  async wait(target: string, signal: AbortSignal): Promise<void> {
    const wait = this.reserve(LOGIN_PACE_MAX_WAIT_MS);
    if (wait === undefined) {
      throw new PgPeerError(
        'PG_TOO_MANY_CONNECTIONS',
        `too many new connections to target "${target}" (at most ${this.perSecond} logins per second; the queue is ${LOGIN_PACE_MAX_WAIT_MS} ms long)`,
        { hint: `retry in a moment, use session pooling, or raise postgres.targets.${target}.max_logins_per_second` },
      );
    }
    if (wait > 0) await pause(wait, signal);
  }
}

/** Resolves after `ms`; rejects with the signal's reason when the session ends first. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

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
}

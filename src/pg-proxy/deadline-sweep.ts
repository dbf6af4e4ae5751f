/**
 * The Postgres front's time limits (a client's startup and authentication, a returned
 * connection's reset, a parked connection's idle time) are checked by one periodic sweep instead
 * of a Node timer each: a connection that comes and goes (`pgbench -C`) would set and clear three
 * (a phase timer, the reset timer, the idle timer), and an unref'd timer also toggles the loop's
 * timer reference each time; a deadline is a number stored on its owner. A limit fires between its
 * time and DEADLINE_SWEEP_MS later. The sweep runs only while something may have a deadline, so
 * an idle daemon does not wake up for it.
 */

/** How often deadlines are checked: a limit ends its phase at most this long after it ran out. */
export const DEADLINE_SWEEP_MS = 250;

export class DeadlineSweep {
  /** Checks every deadline against `now`; returns whether anything may still have one. */
  readonly #sweep: (now: number) => boolean;
  #timer: NodeJS.Timeout | undefined;

  constructor(sweep: (now: number) => boolean) {
    this.#sweep = sweep;
  }

  /** Something got a deadline: sweeps run until nothing may have one. */
  arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      if (!this.#sweep(Date.now())) this.stop();
    }, DEADLINE_SWEEP_MS);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** A clock tests move by hand: timers fire in order as `advance()` passes their due time. */
import type { Clock, TimerHandle } from '../../src/core/credentials/clock.js';

export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; fn: () => void; seq: number }[] = [];
  #seq = 0;

  constructor(start = Date.parse('2030-01-01T00:00:00Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.#now + Math.max(0, delayMs), fn, seq: this.#seq++ };
    this.#timers.push(timer);
    return {
      cancel: () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
    };
  }

  /** Moves time forward, firing due timers in order; returns how many fired. */
  advance(ms: number): number {
    const target = this.#now + ms;
    let fired = 0;
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      this.#now = due.at;
      due.fn();
      fired++;
    }
    this.#now = target;
    return fired;
  }
}

/**
 * Time as the credential broker sees it. The cache takes a clock rather than calling `Date.now()`
 * and `setTimeout` directly, so tests can run hours of refresh schedule in milliseconds.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `delayMs`; timers never keep the process alive. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

/** Longest delay `setTimeout` honours (about 24.8 days); longer ones would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    const timer = setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_TIMEOUT_MS));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

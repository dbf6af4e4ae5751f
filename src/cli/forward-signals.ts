/**
 * Passes the signals sidekey gets on to the command it runs (`exec`, `secrets exec`). Forwarding
 * starts before the spawn: a signal that came between the spawn and the listeners would find none
 * and end sidekey by its default action, leaving the command running on its own. Listeners run on
 * a later turn of the event loop, so `target` is read then, once the command is there.
 */
import type { ChildProcess } from 'node:child_process';

/** Forwards each of `signals` to `target()`; returns the call that stops forwarding. */
export function forwardSignals(signals: readonly NodeJS.Signals[], target: () => ChildProcess | undefined): () => void {
  const forward = (signal: NodeJS.Signals) => target()?.kill(signal);
  for (const signal of signals) process.on(signal, forward);
  return () => {
    for (const signal of signals) process.off(signal, forward);
  };
}

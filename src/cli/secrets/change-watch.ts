/**
 * What `secrets render --watch` and `secrets exec --on-change` share: a long-poll per secret name
 * (the reader's watch), and one debounced reaction to whatever changed. Changes that land close
 * together (a rotation of several secrets) make one reaction, never one each; a reaction never
 * overlaps the one before; a name that cannot be read is retried, and reported once, not in a loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ValueReader } from './value-reader.js';

/** How long one watch request waits before asking again, in seconds. */
export const WATCH_WAIT_SECONDS = 60;
/** How long after a change the reaction waits for more changes, in ms. */
export const CHANGE_DEBOUNCE_MS = 1000;
/** How long a watch that failed waits before trying again, in ms. */
export const WATCH_RETRY_MS = 2000;

/**
 * Calls `react` once changes have settled; never two at once (a change during one queues another).
 * `cancel` drops what is pending and resolves once a reaction under way has settled.
 */
export function debounced(react: () => Promise<void>, delayMs = CHANGE_DEBOUNCE_MS): { trigger(): void; cancel(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  const fire = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = react().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        fire();
      }
    });
  };
  return {
    trigger() {
      if (timer) clearTimeout(timer);
      timer = setTimeout(fire, delayMs);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      again = false;
      return running ?? Promise.resolve();
    },
  };
}

/**
 * Watches each name from the version it is known at, calling `changed` when one moves (or stops
 * being readable, or is readable again). Runs until `signal` aborts.
 */
export function watchNames(
  reader: ValueReader,
  known: ReadonlyMap<string, string>,
  changed: () => void,
  signal: AbortSignal,
  warn: (text: string) => void,
): void {
  for (const [name, version] of known) {
    void (async () => {
      let at = version;
      let failing = false;
      while (!signal.aborted) {
        try {
          const next = await reader.watch(name, at, WATCH_WAIT_SECONDS, signal);
          if (signal.aborted) return;
          if (failing) {
            failing = false;
            changed();
          }
          if (next) {
            at = next.version;
            changed();
          }
        } catch (error) {
          if (signal.aborted) return;
          if (!failing) {
            failing = true;
            warn(`sidekey: watching ${name}: ${(error as Error).message}; retrying\n`);
            changed();
          }
          await sleep(WATCH_RETRY_MS, undefined, { signal }).catch(() => {});
        }
      }
    })();
  }
}

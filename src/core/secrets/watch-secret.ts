/**
 * Waiting for a secret to change: resolves true once the latest active version is no longer
 * `known` (a new version, a restore, a revoke of the latest, a delete: any of them changes what a
 * fetch answers), false when `waitMs` passes first. A write through this process's service wakes
 * the wait at once; writes by another process (the CLI on the same SQLite file, another daemon on
 * the same table) are seen at the next poll, WATCH_POLL_MS apart. No sockets: the secrets API's
 * long-poll and the CLI's direct mode both wait here.
 */
import type { SecretService } from './secret-service.js';

/** How often a watch re-reads the store for writes made elsewhere, in ms. */
export const WATCH_POLL_MS = 1000;
/** The longest a single watch may wait, in seconds. */
export const MAX_WATCH_SECONDS = 300;

export async function waitForChange(
  service: SecretService,
  app: string,
  name: string,
  known: number,
  waitMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  // Ends the current pause early: a write to this name here, or the caller leaving.
  let wake: () => void = () => {};
  const unsubscribe = service.onChange((a, n) => {
    if (a === app && n === name) wake();
  });
  const onAbort = () => wake();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      try {
        if ((await service.currentSerial(app, name)) !== known) return true;
      } catch {
        // Not found or revoked now: a change; the watcher's own fetch reports it.
        return true;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(WATCH_POLL_MS, remaining));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  }
}

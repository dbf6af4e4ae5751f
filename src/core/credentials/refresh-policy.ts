/**
 * When cached credentials are refreshed, when they stop being served, and how long to wait after
 * a failed STS call. Pure functions, so the schedule can be tested without a clock.
 *
 * See docs/credential-endpoint.md ("Refresh"):
 * botocore refetches on every API call once credentials have 15 minutes or less left, so served
 * credentials must keep comfortably more than that while STS is healthy.
 */

/** botocore's advisory refresh threshold: credentials with less left are refetched on every call. */
export const BOTOCORE_ADVISORY_REFRESH_MS = 15 * 60 * 1000; // 15 min
/** Credentials with less than this left count as expired: never served (they could expire in transit). */
export const EXPIRY_SAFETY_MS = 5_000; // 5 s
/**
 * A session is used for at least this fraction of its lifetime before it is refreshed, so short
 * sessions (DurationSeconds 900) or a refresh buffer longer than the session do not refresh in a loop.
 */
export const MIN_USED_FRACTION = 0.5;
/** Never schedule a refresh sooner than this after a fetch (STS handing out near-expired credentials). */
export const MIN_REFRESH_DELAY_MS = 1_000; // 1 s

/**
 * Milliseconds after a fetch at which the credentials should be refreshed: `bufferMs` before they
 * expire, but not before half their lifetime has passed.
 */
export function refreshDelayMs(fetchedAt: number, expiresAt: number, bufferMs: number): number {
  const lifetime = Math.max(0, expiresAt - fetchedAt);
  return Math.max(MIN_REFRESH_DELAY_MS, lifetime - bufferMs, lifetime * MIN_USED_FRACTION);
}

/** True while credentials may still be handed out. */
export function isServable(expiresAt: number, now: number): boolean {
  return expiresAt - now > EXPIRY_SAFETY_MS;
}

/**
 * Whether a session of `sessionSeconds` can keep served credentials above botocore's 15-minute
 * threshold under this policy (used to warn about DurationSeconds 900, CredProxy's default).
 */
export function keepsAboveBotocoreThreshold(sessionSeconds: number, bufferMs: number): boolean {
  return leastLeftMs(sessionSeconds, bufferMs) > BOTOCORE_ADVISORY_REFRESH_MS;
}

/**
 * The least lifetime fresh credentials of a `sessionSeconds` session still have when they are
 * replaced: `bufferMs`, or half the session when the buffer is longer than that.
 */
export function leastLeftMs(sessionSeconds: number, bufferMs: number): number {
  const lifetime = sessionSeconds * 1000;
  return lifetime - refreshDelayMs(0, lifetime, bufferMs);
}

/** Which setting to raise when a session cannot keep served credentials above botocore's threshold. */
export function shortSessionFix(sessionSeconds: number, bufferMs: number): 'DurationSeconds' | 'credentials.refresh_buffer_seconds' {
  // Half the session is the limit: only a longer session helps. Otherwise the buffer is.
  return leastLeftMs(sessionSeconds, bufferMs) < bufferMs ? 'DurationSeconds' : 'credentials.refresh_buffer_seconds';
}

/**
 * Delay before retry number `failures` (1 for the first retry): exponential from `baseMs`, capped
 * at `maxMs`, with "equal jitter" (half fixed, half random) so many daemons that failed together
 * do not retry together, yet no retry comes immediately.
 */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(maxMs, baseMs * 2 ** exponent);
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * The cache cell of one service: holds its current credentials, refreshes them ahead of expiry,
 * lets one STS call run at a time however many callers wait (single flight), and after a failure
 * keeps serving still-valid credentials while retrying with exponential backoff and jitter.
 */
import { SidekeyError } from '../errors.js';
import type { Clock, TimerHandle } from './clock.js';
import type { ServiceCredentials } from './credential-broker.js';
import { backoffDelayMs, isServable, refreshDelayMs } from './refresh-policy.js';

export interface SlotPolicy {
  /** Refresh this long before expiry (`credentials.refresh_buffer_seconds`). */
  readonly refreshBufferMs: number;
  /** First retry delay after a failure (`credentials.retry_delay`). */
  readonly retryBaseMs: number;
  /** Longest retry delay (`credentials.max_retry_delay`). */
  readonly retryMaxMs: number;
}

export interface SlotEvents {
  fetched(credentials: ServiceCredentials, elapsedMs: number): void;
  failed(error: unknown, failures: number, retryInMs: number): void;
}

export class CredentialSlot {
  readonly service: string;
  readonly #fetch: () => Promise<ServiceCredentials>;
  readonly #clock: Clock;
  readonly #events: SlotEvents;
  #policy: SlotPolicy;
  #current: ServiceCredentials | undefined;
  #refreshAt = 0;
  #inflight: Promise<ServiceCredentials> | undefined;
  #timer: TimerHandle | undefined;
  #failures = 0;
  #nextAttemptAt = 0;
  #lastError: string | undefined;
  #lastRefresh: Date | undefined;
  /** Bumped by stop(): a fetch that started before it must not repopulate the slot. */
  #generation = 0;
  #running = false;

  constructor(service: string, fetch: () => Promise<ServiceCredentials>, clock: Clock, policy: SlotPolicy, events: SlotEvents) {
    this.service = service;
    this.#fetch = fetch;
    this.#clock = clock;
    this.#policy = policy;
    this.#events = events;
  }

  /** Starts the refresh cycle with a prefetch; does not wait for it. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#background();
  }

  /** Stops refreshing and forgets the credentials (disable, removal, shutdown). */
  stop(): void {
    this.#running = false;
    this.#generation++;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#current = undefined;
    this.#inflight = undefined;
    this.#failures = 0;
    this.#nextAttemptAt = 0;
  }

  setPolicy(policy: SlotPolicy): void {
    this.#policy = policy;
  }

  get running(): boolean {
    return this.#running;
  }

  /** The credentials a caller may be handed now, or undefined (synchronous: the endpoint's fast path). */
  peek(): ServiceCredentials | undefined {
    const current = this.#current;
    if (!current) return undefined;
    const now = this.#clock.now();
    if (!isServable(current.expiration.getTime(), now)) return undefined;
    // A timer that fired late (a suspended host) must not leave stale credentials in service.
    if (now >= this.#refreshAt && this.#inflight === undefined && now >= this.#nextAttemptAt) this.#background();
    return current;
  }

  /** Valid credentials: cached, or from the one STS call in flight, or from a new one. */
  get(): Promise<ServiceCredentials> {
    const cached = this.peek();
    if (cached) return Promise.resolve(cached);
    if (this.#inflight) return this.#inflight;
    const now = this.#clock.now();
    if (now < this.#nextAttemptAt) {
      const seconds = Math.ceil((this.#nextAttemptAt - now) / 1000);
      return Promise.reject(
        new SidekeyError('CREDENTIALS_UNAVAILABLE', `credentials are not available; the next attempt is in ${seconds} s`, {
          details: { service: this.service, retryAfterSeconds: seconds },
        }),
      );
    }
    return this.#refresh();
  }

  status(): { expiration?: Date; lastRefresh?: Date; lastError?: string; ready: boolean } {
    const current = this.#current;
    const ready = current !== undefined && isServable(current.expiration.getTime(), this.#clock.now());
    return {
      ...(current ? { expiration: current.expiration } : {}),
      ...(this.#lastRefresh ? { lastRefresh: this.#lastRefresh } : {}),
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
      ready,
    };
  }

  /** Seconds until the held credentials expire (negative once expired), or undefined when none are held. */
  secondsToExpiry(): number | undefined {
    return this.#current ? (this.#current.expiration.getTime() - this.#clock.now()) / 1000 : undefined;
  }

  #background(): void {
    this.#refresh().catch(() => {
      // Already reported through events.failed; waiting callers get the rejection themselves.
    });
  }

  #schedule(delayMs: number): void {
    this.#timer?.cancel();
    this.#timer = this.#running ? this.#clock.setTimer(() => this.#background(), delayMs) : undefined;
  }

  #refresh(): Promise<ServiceCredentials> {
    if (this.#inflight) return this.#inflight;
    const generation = this.#generation;
    const started = this.#clock.now();
    const attempt = (async () => {
      try {
        const credentials = await this.#fetch();
        if (generation !== this.#generation) return credentials;
        const now = this.#clock.now();
        const expiresAt = credentials.expiration.getTime();
        if (!isServable(expiresAt, now)) {
          throw new SidekeyError('UPSTREAM_FAILED', `STS returned credentials that expire at ${credentials.expiration.toISOString()}`);
        }
        this.#current = credentials;
        this.#failures = 0;
        this.#nextAttemptAt = 0;
        this.#lastError = undefined;
        this.#lastRefresh = new Date(now);
        const delay = refreshDelayMs(now, expiresAt, this.#policy.refreshBufferMs);
        this.#refreshAt = now + delay;
        this.#schedule(delay);
        this.#events.fetched(credentials, now - started);
        return credentials;
      } catch (error) {
        if (generation !== this.#generation) throw error;
        this.#failures++;
        const delay = backoffDelayMs(this.#failures, this.#policy.retryBaseMs, this.#policy.retryMaxMs);
        this.#nextAttemptAt = this.#clock.now() + delay;
        this.#lastError = error instanceof Error ? error.message : String(error);
        this.#schedule(delay);
        this.#events.failed(error, this.#failures, delay);
        throw new SidekeyError('CREDENTIALS_UNAVAILABLE', 'credentials are not available: the STS call failed', {
          cause: error,
          details: { service: this.service, retryAfterSeconds: Math.ceil(delay / 1000) },
        });
      } finally {
        if (generation === this.#generation) this.#inflight = undefined;
      }
    })();
    this.#inflight = attempt;
    return attempt;
  }
}

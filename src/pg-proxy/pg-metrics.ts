/** The Postgres proxy's metrics: connections, logins by outcome, token cache lookups, bytes, cancels. */

import type { CounterHandle, HistogramHandle, MetricsRegistry } from '../core/metrics/metrics-registry.js';
import { seriesBy } from '../core/metrics/series-by.js';
import type { TokenLookupOutcome } from '../core/pg/iam-token-cache.js';
import type { RelayCounters } from './byte-relay.js';
import type { PoolIdleEnd, PoolReturnOutcome } from './upstream-pool.js';

export type LoginOutcome =
  | 'ok'
  | 'client_auth_failed'
  | 'upstream_auth_failed'
  | 'upstream_unreachable'
  | 'too_many_connections'
  | 'protocol_error'
  | 'refused'
  | 'shutting_down'
  | 'client_gone'
  | 'internal_error';

export type CancelOutcome = 'forwarded' | 'unknown_key' | 'failed';

/**
 * The series every session touches, bound per target when first used (no label key is built per
 * session, and a series appears only once it counted something).
 */
interface TargetSeries {
  loginOk?: CounterHandle;
  loginOkSeconds?: HistogramHandle;
  tokenLookups?: (outcome: TokenLookupOutcome) => CounterHandle;
  checkoutHit?: CounterHandle;
  checkoutMiss?: CounterHandle;
  returnedParked?: CounterHandle;
  bytesToUpstream?: CounterHandle;
  bytesToClient?: CounterHandle;
}

export class PgMetrics {
  readonly #connections;
  readonly #logins;
  readonly #tokens;
  readonly #bytes;
  readonly #cancels;
  readonly #loginSeconds;
  readonly #poolCheckouts;
  readonly #poolReturns;
  readonly #poolEvictions;
  #clientConnections: CounterHandle | undefined;
  #serverConnections: CounterHandle | undefined;
  /** Per target name; targets are configured (server mode checks the allow-list first), so this stays small. */
  readonly #series = new Map<string, TargetSeries>();

  constructor(
    registry: MetricsRegistry,
    active: () => Iterable<readonly [string, number]>,
    idle: () => Iterable<readonly [string, number]>,
  ) {
    registry.gaugeCallback(
      'sidekey_pg_pool_idle_connections',
      'Parked upstream connections waiting for a client, by target.',
      ['target'],
      function* () {
        for (const [target, count] of idle()) yield [{ target }, count] as const;
      },
    );
    this.#poolCheckouts = registry.counter(
      'sidekey_pg_pool_checkouts_total',
      'Sessions that asked the pool for an upstream connection, by target and outcome (hit = reused, miss = new login).',
      ['target', 'outcome'],
    );
    this.#poolReturns = registry.counter(
      'sidekey_pg_pool_returns_total',
      'Upstream connections whose client left, by target and outcome (parked, or why it was closed).',
      ['target', 'outcome'],
    );
    this.#poolEvictions = registry.counter(
      'sidekey_pg_pool_evictions_total',
      'Parked connections closed without reuse, by target and reason.',
      ['target', 'reason'],
    );
    registry.gaugeCallback('sidekey_pg_active_connections', 'Open Postgres proxy sessions by target.', ['target'], function* () {
      for (const [target, count] of active()) yield [{ target }, count] as const;
    });
    this.#connections = registry.counter('sidekey_pg_connections_total', 'Connections accepted by the Postgres proxy, by listener mode.', [
      'mode',
    ]);
    this.#logins = registry.counter('sidekey_pg_logins_total', 'Postgres proxy logins by target and outcome.', ['target', 'outcome']);
    this.#tokens = registry.counter(
      'sidekey_pg_token_cache_total',
      'IAM token lookups by target and outcome (hit, miss = signed, joined = waited for a signature in flight).',
      ['target', 'outcome'],
    );
    this.#bytes = registry.counter('sidekey_pg_bytes_total', 'Bytes relayed after login, by target and direction.', [
      'target',
      'direction',
    ]);
    this.#loginSeconds = registry.histogram(
      'sidekey_pg_login_duration_seconds',
      'Postgres proxy logins from the client connection to ready (or refused), by target and outcome.',
      ['target', 'outcome'],
    );
    this.#cancels = registry.counter('sidekey_pg_cancel_requests_total', 'CancelRequests received, by outcome.', ['outcome']);
  }

  #target(target: string): TargetSeries {
    let series = this.#series.get(target);
    if (!series) {
      series = {};
      this.#series.set(target, series);
    }
    return series;
  }

  connection(mode: 'client' | 'server'): void {
    if (mode === 'client') {
      this.#clientConnections ??= this.#connections.labels({ mode });
      this.#clientConnections.inc();
    } else {
      this.#serverConnections ??= this.#connections.labels({ mode });
      this.#serverConnections.inc();
    }
  }

  /** `seconds`: from the client's connection to the login's end. */
  login(target: string, outcome: LoginOutcome, seconds: number): void {
    if (outcome !== 'ok') {
      this.#loginSeconds.observe({ target, outcome }, seconds);
      this.#logins.inc({ target, outcome });
    } else {
      const series = this.#target(target);
      series.loginOkSeconds ??= this.#loginSeconds.labels({ target, outcome });
      series.loginOkSeconds.observe(seconds);
      series.loginOk ??= this.#logins.labels({ target, outcome });
      series.loginOk.inc();
    }
  }

  token(outcome: TokenLookupOutcome, target: string): void {
    const series = this.#target(target);
    series.tokenLookups ??= seriesBy((lookup: TokenLookupOutcome) => this.#tokens.labels({ target, outcome: lookup }));
    series.tokenLookups(outcome).inc();
  }

  poolCheckout(target: string, outcome: 'hit' | 'miss'): void {
    const series = this.#target(target);
    if (outcome === 'hit') {
      series.checkoutHit ??= this.#poolCheckouts.labels({ target, outcome });
      series.checkoutHit.inc();
    } else {
      series.checkoutMiss ??= this.#poolCheckouts.labels({ target, outcome });
      series.checkoutMiss.inc();
    }
  }

  poolReturn(target: string, outcome: PoolReturnOutcome): void {
    if (outcome !== 'parked') this.#poolReturns.inc({ target, outcome });
    else {
      const series = this.#target(target);
      series.returnedParked ??= this.#poolReturns.labels({ target, outcome });
      series.returnedParked.inc();
    }
  }

  poolEviction(target: string, reason: PoolIdleEnd | 'too_old' | 'cleared'): void {
    this.#poolEvictions.inc({ target, reason });
  }

  cancel(outcome: CancelOutcome): void {
    this.#cancels.inc({ outcome });
  }

  /** Folds the bytes a relay moved since the last call into the counters. */
  bytes(target: string, counters: RelayCounters, reported: RelayCounters): void {
    const up = counters.toUpstream - reported.toUpstream;
    const down = counters.toClient - reported.toClient;
    if (up > 0 || down > 0) {
      const series = this.#target(target);
      if (up > 0) {
        series.bytesToUpstream ??= this.#bytes.labels({ target, direction: 'to_upstream' });
        series.bytesToUpstream.inc(up);
      }
      if (down > 0) {
        series.bytesToClient ??= this.#bytes.labels({ target, direction: 'to_client' });
        series.bytesToClient.inc(down);
      }
    }
    reported.toUpstream = counters.toUpstream;
    reported.toClient = counters.toClient;
  }
}

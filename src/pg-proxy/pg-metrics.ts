/** The Postgres proxy's metrics: connections, logins by outcome, token cache lookups, bytes, cancels. */

import type { MetricsRegistry } from '../core/metrics/metrics-registry.js';
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

export class PgMetrics {
  readonly #connections;
  readonly #logins;
  readonly #tokens;
  readonly #bytes;
  readonly #cancels;
  readonly #poolCheckouts;
  readonly #poolReturns;
  readonly #poolEvictions;

  constructor(
    registry: MetricsRegistry,
    active: () => Iterable<readonly [string, number]>,
    idle: () => Iterable<readonly [string, number]>,
  ) {
    registry.gaugeCallback(
      'sidekey_pg_pool_idle_connections',
      'Parked upstream connections waiting for a client, by target.',
      function* () {
        for (const [target, count] of idle()) yield [{ target }, count] as const;
      },
    );
    this.#poolCheckouts = registry.counter(
      'sidekey_pg_pool_checkouts_total',
      'Sessions that asked the pool for an upstream connection, by target and outcome (hit = reused, miss = new login).',
    );
    this.#poolReturns = registry.counter(
      'sidekey_pg_pool_returns_total',
      'Upstream connections whose client left, by target and outcome (parked, or why it was closed).',
    );
    this.#poolEvictions = registry.counter(
      'sidekey_pg_pool_evictions_total',
      'Parked connections closed without reuse, by target and reason.',
    );
    registry.gaugeCallback('sidekey_pg_active_connections', 'Open Postgres proxy sessions by target.', function* () {
      for (const [target, count] of active()) yield [{ target }, count] as const;
    });
    this.#connections = registry.counter('sidekey_pg_connections_total', 'Connections accepted by the Postgres proxy, by listener mode.');
    this.#logins = registry.counter('sidekey_pg_logins_total', 'Postgres proxy logins by target and outcome.');
    this.#tokens = registry.counter(
      'sidekey_pg_token_cache_total',
      'IAM token lookups by target and outcome (hit, miss = signed, joined = waited for a signature in flight).',
    );
    this.#bytes = registry.counter('sidekey_pg_bytes_total', 'Bytes relayed after login, by target and direction.');
    this.#cancels = registry.counter('sidekey_pg_cancel_requests_total', 'CancelRequests received, by outcome.');
  }

  connection(mode: 'client' | 'server'): void {
    this.#connections.inc({ mode });
  }

  login(target: string, outcome: LoginOutcome): void {
    this.#logins.inc({ target, outcome });
  }

  token(outcome: TokenLookupOutcome, target: string): void {
    this.#tokens.inc({ target, outcome });
  }

  poolCheckout(target: string, outcome: 'hit' | 'miss'): void {
    this.#poolCheckouts.inc({ target, outcome });
  }

  poolReturn(target: string, outcome: PoolReturnOutcome): void {
    this.#poolReturns.inc({ target, outcome });
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
    if (up > 0) this.#bytes.inc({ target, direction: 'to_upstream' }, up);
    if (down > 0) this.#bytes.inc({ target, direction: 'to_client' }, down);
    reported.toUpstream = counters.toUpstream;
    reported.toClient = counters.toClient;
  }
}

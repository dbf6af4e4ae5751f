/** The Postgres proxy's metrics: connections, logins by outcome, token cache lookups, bytes, cancels. */
import type { TokenLookupOutcome } from '../core/pg/iam-token-cache.js';
import type { MetricsRegistry } from '../core/metrics/metrics-registry.js';
import type { RelayCounters } from './byte-relay.js';

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

  constructor(registry: MetricsRegistry, active: () => Iterable<readonly [string, number]>) {
    registry.gaugeCallback('sidekey_pg_active_connections', 'Open Postgres proxy sessions by target.', function* () {
      for (const [target, count] of active()) yield [{ target }, count] as const;
    });
    this.#connections = registry.counter('sidekey_pg_connections_total', 'Connections accepted by the Postgres proxy, by listener mode.');
    this.#logins = registry.counter('sidekey_pg_logins_total', 'Postgres proxy logins by target and outcome.');
    this.#tokens = registry.counter('sidekey_pg_token_cache_total', 'IAM token lookups by target and outcome (hit, miss = signed, joined = waited for a signature in flight).');
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

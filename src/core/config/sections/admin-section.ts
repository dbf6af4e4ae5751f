/** The admin listener (health, readiness, metrics, incident-response API), metrics, logging and shutdown. */
import { ADMIN_CAPS, connectionCapFields } from '../connection-limits.js';
import { listenAddress } from '../listen-address.js';
import { obj, section } from '../mapping-schemas.js';
import { arr, bool, type Infer, int, oneOf, optional, str, withDefault } from '../schema.js';
import { token } from '../validators.js';

export const DEFAULT_ADMIN_LISTEN = { kind: 'tcp', host: '127.0.0.1', port: 9090 } as const;

export const adminSchema = obj({
  listen: optional(listenAddress()),
  /** Bearer token for the incident-response API (`/admin/...`); without it that API is off. */
  token: optional(token()),
  /** Extra Host header values accepted besides the listener's own address (a Service DNS name a scraper uses). */
  allowed_hosts: withDefault(arr(str({ min: 1, max: 253 }), { max: 64 }), []),
  ...connectionCapFields(ADMIN_CAPS),
});

/** CredProxy's `metrics.prometheus`; its default host was 0.0.0.0, ours is loopback. */
export const metricsSchema = obj({
  prometheus: section(
    obj({
      enabled: withDefault(bool(), true),
      host: optional(str({ min: 1, max: 253 })),
      port: optional(int({ min: 0, max: 65535 })),
    }),
  ),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const loggingSchema = obj({
  level: withDefault(oneOf(LOG_LEVELS), 'info'),
});
export type LoggingConfig = Infer<typeof loggingSchema>;

/** How long a stop (SIGTERM, SIGINT) lets in-flight requests and sessions finish unless configured, in seconds. */
export const DEFAULT_DRAIN_SECONDS = 10;
/** Longest configurable drain, in seconds. */
export const MAX_DRAIN_SECONDS = 3600;

export const shutdownSchema = obj({
  /**
   * How long a stop lets in-flight requests and sessions finish before closing them, for every front
   * at once (cloud-sql-proxy's --max-sigterm-delay); keep it under the orchestrator's grace period.
   */
  drain_seconds: withDefault(int({ min: 0, max: MAX_DRAIN_SECONDS, unit: 'seconds' }), DEFAULT_DRAIN_SECONDS),
  /**
   * Exit 0 after a SIGTERM's drain instead of 143: Kubernetes Jobs and ECS tasks then count the
   * sidecar's stop as a success (cloud-sql-proxy's --exit-zero-on-sigterm).
   */
  exit_zero_on_sigterm: withDefault(bool(), false),
});

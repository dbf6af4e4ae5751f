/** What the Postgres front shares with all its sessions, and where a cancel request is routed. */
import type { Logger } from '../core/log/logger.js';
import type { BackendKey } from '../core/pg/backend-messages.js';
import type { CancelKeyRegistry } from '../core/pg/cancel-keys.js';
import type { PgMetrics } from './pg-metrics.js';
import type { ProxySession } from './proxy-session.js';
import type { UpstreamEndpoint } from './upstream-endpoint.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface CancelRoute {
  readonly endpoint: UpstreamEndpoint;
  readonly key: BackendKey;
}

/** What the front shares with all its sessions. */
export interface SessionHub {
  readonly logger: Logger;
  readonly metrics: PgMetrics;
  readonly cancels: CancelKeyRegistry<CancelRoute>;
  readonly pool: UpstreamPool;
  readonly startupTimeoutMs?: number;
  draining(): boolean;
  /** Takes a connection slot for the target; false when it is full. A slot taken is given back with releaseSlot. */
  acquire(target: string, max: number): boolean;
  releaseSlot(target: string): void;
  forwardCancel(key: BackendKey, remote: string): Promise<void>;
  /** The session is over (whatever happened): the front forgets it. */
  ended(session: ProxySession): void;
}

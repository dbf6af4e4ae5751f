import type { ListenAddress } from '../core/config/listen-address.js';
import type { LoadedConfig } from '../core/config/load-config.js';
import type { CredentialBroker } from '../core/credentials/credential-broker.js';
import type { Logger } from '../core/log/logger.js';
import type { MetricsRegistry } from '../core/metrics/metrics-registry.js';

/** What the daemon hands every front when it builds it. */
export interface FrontContext {
  readonly loaded: LoadedConfig;
  /** A child logger named after the front. */
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly broker: CredentialBroker;
  /** Asks the process to drain every front and exit 0 (POST /quitquitquit); absent where nothing owns the process. */
  readonly quit?: () => void;
}

/**
 * One listener-owning part of the daemon (credential endpoint, secrets API, metadata guard,
 * Postgres proxy, admin). The daemon starts them in order (a failed start stops the ones already
 * started, in reverse order), reloads them on SIGHUP, and on SIGTERM/SIGINT stops them all at once,
 * each draining for up to shutdown.drain_seconds. Fronts depend on net/ and core/ only.
 */
export interface Front {
  readonly name: string;
  start(): Promise<void>;
  /** Stop accepting, drain for up to `drainMs`, then close. */
  stop(drainMs: number): Promise<void>;
  /** Apply a new, already validated config without dropping what did not change. */
  reload?(next: LoadedConfig): Promise<void>;
  /** The addresses it listens on, as bound (real ports when 0 was configured). */
  addresses?(): readonly ListenAddress[];
  /** False while the front cannot serve yet (for `/ready`); fronts without the notion omit it. */
  ready?(): boolean;
}

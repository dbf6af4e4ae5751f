/** Builds the daemon's credential broker from the config (the composition root calls this). */
import type { LoadedConfig } from '../config/load-config.js';
import type { Logger } from '../log/logger.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { ManagedCredentialBroker } from './credential-broker.js';
import { ServiceCredentialCache, type ServiceCredentialCacheOptions } from './service-credential-cache.js';

export type { ManagedCredentialBroker };

export function createCredentialBroker(
  loaded: LoadedConfig,
  logger: Logger,
  metrics: MetricsRegistry,
  options: ServiceCredentialCacheOptions = {},
): ServiceCredentialCache {
  return new ServiceCredentialCache(loaded, logger, metrics, options);
}

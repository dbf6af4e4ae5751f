/**
 * Builds the daemon's credential broker from the config. PLACEHOLDER until the credentials core
 * lands (issue 2): it knows the configured services but cannot fetch credentials yet.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { baseCredentialProvider } from '../aws/base-credentials.js';
import { SidekeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import type { CredentialBroker, ServiceStatus } from './credential-broker.js';

export interface ManagedCredentialBroker extends CredentialBroker {
  /** Prefetches every service's credentials (does not wait for them). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies a new config: unchanged services keep their cached credentials. */
  reload(next: LoadedConfig): Promise<void>;
}

export function createCredentialBroker(loaded: LoadedConfig, _logger: Logger, _metrics: MetricsRegistry): ManagedCredentialBroker {
  let config = loaded.config;
  const base = baseCredentialProvider(config.aws_defaults);
  return {
    async start() {},
    async stop() {},
    async reload(next) {
      config = next.config;
    },
    async get(service) {
      throw new SidekeyError('CREDENTIALS_UNAVAILABLE', `credentials for ${service} are not available`);
    },
    services: () => Object.keys(config.services),
    roleArn: (service) => config.services[service]?.assumed_role.RoleArn,
    status: (): ServiceStatus[] =>
      Object.entries(config.services).map(([service, s]) => ({ service, roleArn: s.assumed_role.RoleArn, enabled: s.enabled, ready: false })),
    ready: () => Object.keys(config.services).length === 0,
    baseCredentials: () => base,
    authenticate: () => undefined,
    disable: () => false,
    enable: () => false,
    setToken: () => false,
    serviceProvider: (service) => async () => {
      throw new SidekeyError('CREDENTIALS_UNAVAILABLE', `credentials for ${service} are not available`);
    },
  };
}

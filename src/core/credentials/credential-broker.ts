/**
 * The credential broker (every front calls it `broker`): it holds each service's AWS credentials.
 * The credential endpoint vends them, the metadata guard answers per-caller IMDS requests with them,
 * the Postgres proxy signs IAM tokens with them, and the admin API disables services.
 * Implemented by `ServiceCredentialCache` (src/core/credentials/service-credential-cache.ts).
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { LoadedConfig } from '../config/load-config.js';

/** Credentials of one service's assumed role, as served to callers. */
export interface ServiceCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
  readonly roleArn: string;
  readonly accountId?: string;
  readonly sessionName: string;
  readonly sourceIdentity?: string;
}

/** What `/ready`, `sidekey admin status` and metrics show for a service; never a secret. */
export interface ServiceStatus {
  readonly service: string;
  readonly roleArn: string;
  readonly enabled: boolean;
  /** Expiry of the cached credentials, if any are held. */
  readonly expiration?: Date;
  readonly lastRefresh?: Date;
  readonly lastError?: string;
  /** Holds credentials that are still valid. */
  readonly ready: boolean;
}

/** A per-service request rate limit (`services.<name>.rate_limit`). */
export interface RateLimit {
  readonly per_second: number;
  readonly burst: number;
}

export interface CredentialBroker {
  /**
   * Cached credentials for `service`, fetched or refreshed as needed (single flight per service).
   * Rejects with SidekeyError NOT_FOUND (no such service), SERVICE_DISABLED, or
   * CREDENTIALS_UNAVAILABLE (STS failed and nothing valid is cached; `details.retryAfterSeconds`
   * says when the next attempt is).
   */
  get(service: string): Promise<ServiceCredentials>;
  /** Valid cached credentials right now, without waiting or fetching (a front's fast path). */
  peek?(service: string): ServiceCredentials | undefined;
  /** The service's own rate limit, when its config sets one. */
  rateLimit?(service: string): RateLimit | undefined;
  /** Names of the configured services (static and dynamic). */
  services(): readonly string[];
  /** The role a service assumes, or undefined when there is no such service. */
  roleArn(service: string): string | undefined;
  status(): readonly ServiceStatus[];
  /** True when every enabled service holds valid credentials. */
  ready(): boolean;
  /** The daemon's own base credentials (standard AWS chain, or the config's iam_keys/iam_profile). */
  baseCredentials(): AwsCredentialIdentityProvider;
  /**
   * Which service a presented endpoint token belongs to, compared in constant time; undefined if
   * none.
   */
  authenticate(token: string | undefined): string | undefined;
  /** Incident response: stop vending for a service at once and purge its cached credentials. */
  disable(service: string): boolean;
  enable(service: string): boolean;
  /** Replaces a service's endpoint token in memory at once (the old one stops working). */
  setToken(service: string, token: string): boolean;
  /** Provider for a service's role, for SDK clients that sign as that service (the Postgres proxy). */
  serviceProvider(service: string): AwsCredentialIdentityProvider;
}

/** The broker as the daemon drives it: start (prefetch), reload (SIGHUP) and stop. */
export interface ManagedCredentialBroker extends CredentialBroker {
  /** Prefetches every enabled service's credentials (does not wait for them). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies a new config: unchanged services keep their cached credentials. */
  reload(next: LoadedConfig): Promise<void>;
}

export type { AwsCredentialIdentity, AwsCredentialIdentityProvider };

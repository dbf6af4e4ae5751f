/**
 * The credential broker's implementation: one `CredentialSlot` per service (prefetch, refresh-ahead, single flight,
 * backoff), the service tokens, incident response (disable/enable/setToken), dynamic service
 * files and reloads that keep the cached credentials of every service that did not change.
 * No sockets here: the fronts reach it through `CredentialBroker`.
 */
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { baseCredentialProvider } from '../aws/base-credentials.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { SidekeyConfig } from '../config/sidekey-config.js';
import { SidekeyError } from '../errors.js';
import { audit } from '../log/audit.js';
import { type Logger, serializeError } from '../log/logger.js';
import type { MetricsRegistry } from '../metrics/metrics-registry.js';
import { timeCall } from '../metrics/time-call.js';
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import type { ManagedCredentialBroker, RateLimit, ServiceCredentials, ServiceStatus } from './credential-broker.js';
import { CredentialSlot, type SlotPolicy } from './credential-slot.js';
import { DynamicServiceFiles } from './dynamic-service-files.js';
import { keepsAboveBotocoreThreshold, leastLeftMs, shortSessionFix } from './refresh-policy.js';
import { defineService, type ServiceDefinition } from './service-definition.js';
import { ServiceTokens } from './service-tokens.js';
import { type AssumeRoleFn, StsAssumeRole } from './sts-assume-role.js';

/** How often token files are checked for a change (one stat per file). */
export const TOKEN_FILE_CHECK_MS = 2_000; // 2 s

export interface ServiceCredentialCacheOptions {
  /** Time source for refresh scheduling (tests pass a manual clock). */
  readonly clock?: Clock;
  /** Replaces the STS call (the default is the real `@aws-sdk/client-sts`). */
  readonly assumeRole?: AssumeRoleFn;
  /** Environment for `${fromEnv:}` in dynamic service files. */
  readonly env?: NodeJS.ProcessEnv;
}

/** A bounded label for failure metrics: the AWS error name, else `Error`. */
function errorLabel(error: unknown): string {
  const name = (error as { name?: unknown })?.name;
  return typeof name === 'string' && /^[A-Za-z]{1,64}$/.test(name) ? name : 'Error';
}

function slotPolicy(config: SidekeyConfig): SlotPolicy {
  const c = config.credentials;
  return { refreshBufferMs: c.refresh_buffer_seconds * 1000, retryBaseMs: c.retry_delay * 1000, retryMaxMs: c.max_retry_delay * 1000 };
}

export class ServiceCredentialCache implements ManagedCredentialBroker {
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #customAssumeRole: AssumeRoleFn | undefined;
  readonly #tokens: ServiceTokens;
  readonly #dynamic: DynamicServiceFiles;
  readonly #disabled = new Set<string>();
  readonly #slots = new Map<string, CredentialSlot>();
  #defs = new Map<string, ServiceDefinition>();
  #config: SidekeyConfig;
  #sts: StsAssumeRole;
  #base: AwsCredentialIdentityProvider;
  #poll: TimerHandle | undefined;
  #tokenFileCheck: TimerHandle | undefined;
  #started = false;
  readonly #calls;
  readonly #failures;
  readonly #assumeRoleSeconds;

  constructor(loaded: LoadedConfig, logger: Logger, metrics: MetricsRegistry, options: ServiceCredentialCacheOptions = {}) {
    this.#logger = logger;
    this.#clock = options.clock ?? systemClock;
    this.#customAssumeRole = options.assumeRole;
    this.#config = loaded.config;
    this.#sts = this.#newSts(loaded.config);
    this.#base = baseCredentialProvider(loaded.config.aws_defaults);
    this.#calls = metrics.counter('sidekey_upstream_calls_total', 'STS AssumeRole calls by service.', ['service']);
    this.#assumeRoleSeconds = metrics.histogram(
      'sidekey_sts_assume_role_duration_seconds',
      'STS AssumeRole calls, by service and outcome.',
      ['service', 'outcome'],
    );
    this.#failures = metrics.counter('sidekey_upstream_failures_total', 'Failed STS AssumeRole calls by service and error.', [
      'service',
      'error',
    ]);
    metrics.gaugeCallback(
      'sidekey_credentials_expiry_seconds',
      'Seconds until the cached credentials of each service expire.',
      ['service'],
      () =>
        [...this.#slots].flatMap(([service, slot]) => {
          const seconds = slot.secondsToExpiry();
          return seconds === undefined ? [] : [[{ service }, Math.round(seconds)] as const];
        }),
    );
    this.#tokens = new ServiceTokens((message) => logger.error({ problem: message }, 'service token problem'));
    this.#dynamic = new DynamicServiceFiles((message, file) => logger.error({ problem: message, file }, 'dynamic service file refused'));
    this.#apply(this.#resolve(loaded.config), true);
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    for (const def of this.#defs.values()) this.#startSlot(def.name);
    this.#schedulePoll();
    this.#scheduleTokenFileCheck();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#poll?.cancel();
    this.#tokenFileCheck?.cancel();
    for (const slot of this.#slots.values()) slot.stop();
    this.#sts.destroy();
  }

  async reload(next: LoadedConfig): Promise<void> {
    const previous = this.#config;
    this.#config = next.config;
    if (JSON.stringify(previous.credentials) !== JSON.stringify(next.config.credentials)) {
      this.#sts.destroy();
      this.#sts = this.#newSts(next.config);
    }
    if (JSON.stringify(previous.aws_defaults ?? null) !== JSON.stringify(next.config.aws_defaults ?? null)) {
      this.#base = baseCredentialProvider(next.config.aws_defaults);
    }
    this.#apply(this.#resolve(next.config), false);
    this.#schedulePoll();
  }

  /** Re-reads the dynamic service directories now (also done every `reload_interval`). */
  rescan(): void {
    this.#apply(this.#resolve(this.#config), false);
  }

  get(service: string): Promise<ServiceCredentials> {
    const slot = this.#slots.get(service);
    if (!slot) return Promise.reject(new SidekeyError('NOT_FOUND', `no service named "${service}"`));
    if (!this.#enabled(service)) return Promise.reject(new SidekeyError('SERVICE_DISABLED', 'this service is disabled'));
    // Asked again once the fetch settles: a service disabled while its STS call was in flight
    // must not hand out what that call returns to the callers who were waiting for it.
    return slot.get().then((credentials) => {
      if (!this.#enabled(service)) throw new SidekeyError('SERVICE_DISABLED', 'this service is disabled');
      return credentials;
    });
  }

  /** The credentials a caller may be handed right now, without waiting; undefined when none are. */
  peek(service: string): ServiceCredentials | undefined {
    return this.#enabled(service) ? this.#slots.get(service)?.peek() : undefined;
  }

  rateLimit(service: string): RateLimit | undefined {
    return this.#defs.get(service)?.config.rate_limit;
  }

  services(): readonly string[] {
    return [...this.#defs.keys()];
  }

  definition(service: string): ServiceDefinition | undefined {
    return this.#defs.get(service);
  }

  roleArn(service: string): string | undefined {
    return this.#defs.get(service)?.config.assumed_role.RoleArn;
  }

  status(): readonly ServiceStatus[] {
    return [...this.#defs.values()].map((def) => {
      const slot = this.#slots.get(def.name);
      return {
        service: def.name,
        roleArn: def.config.assumed_role.RoleArn,
        enabled: this.#enabled(def.name),
        ...(slot?.status() ?? { ready: false }),
      };
    });
  }

  ready(): boolean {
    return [...this.#defs.keys()].every((name) => !this.#enabled(name) || this.#slots.get(name)?.status().ready === true);
  }

  baseCredentials(): AwsCredentialIdentityProvider {
    return this.#base;
  }

  authenticate(token: string | undefined): string | undefined {
    return this.#tokens.find(token);
  }

  disable(service: string): boolean {
    if (!this.#defs.has(service)) return false;
    this.#disabled.add(service);
    this.#slots.get(service)?.stop();
    audit(this.#logger, 'service.disabled', { service, outcome: 'ok' });
    return true;
  }

  enable(service: string): boolean {
    const def = this.#defs.get(service);
    if (!def) return false;
    this.#disabled.delete(service);
    if (!def.config.enabled) return false;
    this.#startSlot(service);
    audit(this.#logger, 'service.enabled', { service, outcome: 'ok' });
    return true;
  }

  setToken(service: string, token: string): boolean {
    if (!this.#defs.has(service)) return false;
    this.#tokens.set(service, token);
    audit(this.#logger, 'service.token-replaced', { service, outcome: 'ok' });
    return true;
  }

  serviceProvider(service: string): AwsCredentialIdentityProvider {
    return async () => {
      const c = await this.get(service);
      return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: c.expiration };
    };
  }

  #enabled(service: string): boolean {
    return this.#defs.get(service)?.config.enabled === true && !this.#disabled.has(service);
  }

  #startSlot(service: string): void {
    if (this.#started && this.#enabled(service)) this.#slots.get(service)?.start();
  }

  #newSts(config: SidekeyConfig): StsAssumeRole {
    return new StsAssumeRole({ timeoutMs: config.credentials.request_timeout * 1000, endpoint: config.credentials.sts_endpoint });
  }

  #resolve(config: SidekeyConfig): Map<string, ServiceDefinition> {
    const defs = new Map<string, ServiceDefinition>();
    for (const [name, service] of Object.entries(config.services)) defs.set(name, defineService(name, service, config.aws_defaults));
    const dynamic = this.#dynamic.scan(config.dynamic_services, new Set(defs.keys()));
    for (const [name, { config: service, file, fileRoots }] of dynamic)
      defs.set(name, defineService(name, service, config.aws_defaults, file, fileRoots));
    return defs;
  }

  /** Installs a new set of services; a slot whose identity did not change keeps its credentials. */
  #apply(defs: Map<string, ServiceDefinition>, strict: boolean): void {
    this.#tokens.load(defs.values(), strict);
    const policy = slotPolicy(this.#config);
    for (const [name, slot] of this.#slots) {
      if (defs.has(name)) continue;
      slot.stop();
      this.#slots.delete(name);
      this.#disabled.delete(name);
      this.#tokens.forget(name);
      this.#logger.info({ service: name }, 'service removed');
    }
    const previous = this.#defs;
    this.#defs = defs;
    for (const def of defs.values()) {
      const existing = this.#slots.get(def.name);
      if (existing && previous.get(def.name)?.identity === def.identity) {
        existing.setPolicy(policy);
        if (!this.#enabled(def.name)) existing.stop();
        else this.#startSlot(def.name);
        continue;
      }
      existing?.stop();
      this.#slots.set(def.name, this.#newSlot(def, policy));
      const duration = def.config.assumed_role.DurationSeconds;
      if (!keepsAboveBotocoreThreshold(duration, policy.refreshBufferMs)) {
        this.#logger.warn(
          {
            service: def.name,
            DurationSeconds: duration,
            refresh_buffer_seconds: policy.refreshBufferMs / 1000,
            least_left_seconds: Math.floor(leastLeftMs(duration, policy.refreshBufferMs) / 1000),
          },
          `credentials can be handed out with 15 minutes or less left, and the AWS SDKs then fetch again on every call: raise ${shortSessionFix(duration, policy.refreshBufferMs)}`,
        );
      }
      this.#startSlot(def.name);
    }
  }

  #newSlot(def: ServiceDefinition, policy: SlotPolicy): CredentialSlot {
    const fetch = () => {
      this.#calls.inc({ service: def.name });
      return timeCall(this.#assumeRoleSeconds, { service: def.name }, () => (this.#customAssumeRole ?? this.#sts.assume)(def));
    };
    const role = def.config.assumed_role.RoleArn;
    return new CredentialSlot(def.name, fetch, this.#clock, policy, {
      fetched: (credentials, elapsedMs) =>
        this.#logger.info(
          { service: def.name, roleArn: role, sessionName: def.sessionName, expiration: credentials.expiration.toISOString(), elapsedMs },
          'credentials fetched',
        ),
      failed: (error, failures, retryInMs) => {
        this.#failures.inc({ service: def.name, error: errorLabel(error) });
        this.#logger.warn(
          { service: def.name, roleArn: role, err: serializeError(error), failures, retryInSeconds: Math.round(retryInMs / 100) / 10 },
          'STS AssumeRole failed; cached credentials stay in service until they expire',
        );
      },
    });
  }

  /**
   * Token files are watched (a stat each every TOKEN_FILE_CHECK_MS): a rotated file, including a
   * Kubernetes secret volume's symlink swap, takes effect without a reload. Only tokens are
   * re-read; a file that turns invalid is reported and the service keeps its previous token.
   */
  #scheduleTokenFileCheck(): void {
    this.#tokenFileCheck?.cancel();
    if (!this.#started) return;
    this.#tokenFileCheck = this.#clock.setTimer(() => {
      if (this.#tokens.filesChanged()) {
        this.#tokens.load(this.#defs.values(), false);
        this.#logger.info('a token file changed: service tokens re-read');
      }
      this.#scheduleTokenFileCheck();
    }, TOKEN_FILE_CHECK_MS);
  }

  #schedulePoll(): void {
    this.#poll?.cancel();
    const section = this.#config.dynamic_services;
    if (!this.#started || !section.enabled) return;
    this.#poll = this.#clock.setTimer(() => {
      try {
        this.rescan();
      } catch (error) {
        this.#logger.error({ err: serializeError(error) }, 'dynamic service rescan failed');
      }
      this.#schedulePoll();
    }, section.reload_interval * 1000);
  }
}

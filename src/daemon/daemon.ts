/**
 * The composition root: builds the core (logger, metrics, credential broker) and the fronts from
 * one validated config, reloads on request, and stops every front at once within the drain time.
 */
import { type LoadedConfig, loadConfig } from '../core/config/load-config.js';
import { createCredentialBroker, type ManagedCredentialBroker } from '../core/credentials/create-credential-broker.js';
import { type Logger, serializeError } from '../core/log/logger.js';
import { MetricsRegistry } from '../core/metrics/metrics-registry.js';
import type { Front } from '../net/front.js';
import { createFronts } from './create-fronts.js';

export interface DaemonOptions {
  readonly loaded: LoadedConfig;
  readonly logger: Logger;
  /** Re-reads the config on reload (defaults to loading the same file again). */
  readonly reloadConfig?: () => LoadedConfig;
  /** Called when a front asks the process to drain and exit 0 (the admin listener's POST /quitquitquit). */
  readonly onQuit?: () => void;
}

export class Daemon {
  readonly metrics = new MetricsRegistry({ processMetrics: true });
  readonly logger: Logger;
  readonly broker: ManagedCredentialBroker;
  #loaded: LoadedConfig;
  #fronts: Front[] = [];
  readonly #reloadConfig: () => LoadedConfig;
  readonly #onQuit: (() => void) | undefined;
  #reloading: Promise<boolean> | undefined;

  constructor(options: DaemonOptions) {
    this.#loaded = options.loaded;
    this.logger = options.logger;
    this.#reloadConfig = options.reloadConfig ?? (() => loadConfig(this.#loaded.file));
    this.#onQuit = options.onQuit;
    this.broker = createCredentialBroker(this.#loaded, this.logger.child({ front: 'credentials' }), this.metrics);
  }

  get config(): LoadedConfig {
    return this.#loaded;
  }

  get fronts(): readonly Front[] {
    return this.#fronts;
  }

  async start(): Promise<void> {
    const ctx = (name: string) => ({
      loaded: this.#loaded,
      logger: this.logger.child({ front: name }),
      metrics: this.metrics,
      broker: this.broker,
      ...(this.#onQuit ? { quit: this.#onQuit } : {}),
    });
    this.#fronts = createFronts({ ...ctx('daemon'), logger: this.logger }, () => this.#fronts);
    await this.broker.start();
    const started: Front[] = [];
    try {
      for (const front of this.#fronts) {
        await front.start();
        started.push(front);
      }
    } catch (error) {
      for (const front of started.reverse()) await front.stop(0).catch(() => {});
      await this.broker.stop();
      throw error;
    }
    this.logger.info({ config: this.#loaded.file, fronts: this.#fronts.map((f) => f.name) }, 'sidekey started');
  }

  /**
   * Re-reads and applies the config. An invalid file is refused and logged; the running config
   * stays. Concurrent reload requests share one reload.
   */
  reload(): Promise<boolean> {
    this.#reloading ??= this.#doReload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #doReload(): Promise<boolean> {
    let next: LoadedConfig;
    try {
      next = this.#reloadConfig();
    } catch (error) {
      this.logger.error({ err: serializeError(error) }, 'config reload refused: the running config stays');
      return false;
    }
    // Every front, service and session holds a child of the logger, and a pino child keeps the
    // level it was made with: a new level could only reach some of them, so it waits for a restart.
    // Compared with the level the logger runs at, so every later reload still says so.
    const level = this.logger.level;
    if (next.config.logging.level !== level)
      this.logger.warn({ keys: ['logging.level'], running: level }, 'these keys take effect on restart');
    this.#loaded = next;
    await this.broker.reload(next);
    for (const front of this.#fronts) {
      try {
        await front.reload?.(next);
      } catch (error) {
        this.logger.error({ err: serializeError(error), front: front.name }, 'front reload failed');
      }
    }
    this.logger.info({ config: next.file }, 'config reloaded');
    return true;
  }

  ready(): boolean {
    return this.broker.ready() && this.#fronts.every((f) => f.ready?.() ?? true);
  }

  /**
   * Stops every front at once, each letting its in-flight work finish for up to `drainMs`
   * (shutdown.drain_seconds by default), so the whole stop takes at most that long, then the core.
   */
  async stop(drainMs = this.#loaded.config.shutdown.drain_seconds * 1000): Promise<void> {
    await Promise.all(
      this.#fronts.map((front) =>
        front.stop(drainMs).catch((error: unknown) => {
          this.logger.error({ err: serializeError(error), front: front.name }, 'front stop failed');
        }),
      ),
    );
    await this.broker.stop();
    this.logger.info('sidekey stopped');
  }
}

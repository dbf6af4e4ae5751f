import type { Command } from 'commander';
import { loadConfig } from '../../core/config/load-config.js';
import { createLogger, serializeError } from '../../core/log/logger.js';
import { Daemon } from '../../daemon/daemon.js';
import { DEFAULT_CONFIG_FILE } from '../default-config-file.js';
import { ExitCode } from '../exit-codes.js';
import { logProcessEvents } from '../process-events.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: every front whose section is in the config')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG_FILE)
    .action(async (options: { config: string }) => {
      const loaded = loadConfig(options.config);
      const logger = createLogger({ level: loaded.config.logging.level });
      logProcessEvents(logger);
      const daemon = new Daemon({ loaded, logger });
      let stopping = false;
      const stop = (signal: 'SIGTERM' | 'SIGINT') => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'draining before exit');
        daemon
          .stop()
          .catch((error: unknown) => logger.error({ err: serializeError(error) }, 'stop failed'))
          .finally(() => {
            logger.flush();
            process.exit(signal === 'SIGTERM' ? ExitCode.SIGTERM : ExitCode.SIGINT);
          });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => {
        logger.info('SIGHUP: reloading config');
        void daemon.reload();
      });
      try {
        await daemon.start();
      } catch (error) {
        logger.fatal({ err: serializeError(error) }, 'start-up failed');
        logger.flush();
        await daemon.stop(0).catch(() => {});
        throw error;
      }
    });
}

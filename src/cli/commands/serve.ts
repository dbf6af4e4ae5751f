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
      let stopping = false;
      /** SIGTERM exits 143 (or 0 with shutdown.exit_zero_on_sigterm), SIGINT 130, POST /quitquitquit 0. */
      const exitCodeOf = (cause: 'SIGTERM' | 'SIGINT' | 'quit') => {
        if (cause === 'quit') return ExitCode.OK;
        if (cause === 'SIGINT') return ExitCode.SIGINT;
        return daemon.config.config.shutdown.exit_zero_on_sigterm ? ExitCode.OK : ExitCode.SIGTERM;
      };
      const stop = (cause: 'SIGTERM' | 'SIGINT' | 'quit') => {
        if (stopping) return;
        stopping = true;
        logger.info({ cause }, 'draining before exit');
        daemon
          .stop()
          .catch((error: unknown) => logger.error({ err: serializeError(error) }, 'stop failed'))
          .finally(() => {
            logger.flush();
            process.exit(exitCodeOf(cause));
          });
      };
      const daemon = new Daemon({ loaded, logger, onQuit: () => stop('quit') });
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

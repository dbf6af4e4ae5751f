/**
 * What the Node.js process itself reports while the daemon runs, as JSON log lines like the rest
 * of its output, so that a log pipeline reading stdout sees them: Node's warnings (deprecations,
 * the AWS SDK's notice about Node versions) instead of raw text on stderr, and an error that
 * nothing caught (an exception, or a rejection with no handler) as a fatal line with its stack
 * before the process exits with ExitCode.FAILURE, instead of Node's own crash dump.
 */
import type { Logger } from '../core/log/logger.js';
import { serializeError } from '../core/log/logger.js';
import { ExitCode } from './exit-codes.js';

/** Routes the process's warnings and uncaught errors to `logger`. Call once, before the daemon starts. */
export function logProcessEvents(logger: Logger): void {
  // Node prints warnings to stderr through its own listener; this one replaces it.
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    const code = (warning as { code?: unknown }).code;
    logger.warn(
      { warning: { type: warning.name, message: warning.message, ...(typeof code === 'string' ? { code } : {}) } },
      'node.js warning',
    );
  });
  // With Node's default --unhandled-rejections=throw, a rejection nobody handles arrives here too (origin 'unhandledRejection').
  process.on('uncaughtException', (error, origin) => {
    const stack = error instanceof Error ? error.stack : undefined;
    logger.fatal({ err: { ...serializeError(error), stack }, origin }, 'uncaught error: exiting');
    logger.flush();
    process.exit(ExitCode.FAILURE);
  });
}

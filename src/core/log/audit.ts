import type { Logger } from './logger.js';

/**
 * Writes one audit event: a log line with `audit: <event>` and a stable set of fields, so that
 * log pipelines can select and index them. Fields must never include a secret value.
 */
export function audit(logger: Logger, event: string, fields: Readonly<Record<string, unknown>>): void {
  logger.info({ audit: event, ...fields }, event);
}

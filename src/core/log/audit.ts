import { type Logger, redactSecrets } from './logger.js';

/**
 * Writes one audit event: a log line with `audit: <event>` and a stable set of fields, so that
 * log pipelines can select and index them. Fields must never include a secret value.
 */
export function audit(logger: Logger, event: string, fields: Readonly<Record<string, unknown>>): void {
  eventLogger(logger, event).info(fields, event);
}

/** Most distinct events remembered per logger (events are constants; this only bounds a misuse). */
const MAX_EVENTS_PER_LOGGER = 256;
const eventLoggers = new WeakMap<Logger, Map<string, Logger>>();

/** The child of `logger` that binds `audit: <event>`: pino serializes a child's bindings once, not on every line. */
function eventLogger(logger: Logger, event: string): Logger {
  let events = eventLoggers.get(logger);
  if (!events) {
    events = new Map();
    eventLoggers.set(logger, events);
  }
  let child = events.get(event);
  if (!child) {
    child = logger.child({ audit: event });
    if (events.size < MAX_EVENTS_PER_LOGGER) events.set(event, child);
  }
  return child;
}

/**
 * A logger for one audit event whose fixed fields (`audit: <event>` and `fixed`, e.g. a service and
 * its role) are bound once, as pino child bindings; write its lines with `auditLine`. The bindings
 * pass through the same redaction as any log object (once, here).
 */
export function auditLogger(logger: Logger, event: string, fixed: Readonly<Record<string, unknown>> = {}): Logger {
  return logger.child(redactSecrets({ audit: event, ...fixed }) as Record<string, unknown>);
}

/** One line of an `auditLogger`'s event: the same line `audit()` writes, with the fixed fields bound. */
export function auditLine(events: Logger, event: string, fields: Readonly<Record<string, unknown>>): void {
  events.info(fields, event);
}

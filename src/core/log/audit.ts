import { isSecretKey, type Logger, REDACTED, redactSecrets } from './logger.js';
import { type PinoLineTemplate, pinoLineTemplate } from './pino-line-template.js';

/**
 * Writes one audit event: a log line with `audit: <event>` and a stable set of fields, so that
 * log pipelines can select and index them. Fields must never include a secret value.
 */
export function audit(logger: Logger, event: string, fields: Readonly<Record<string, unknown>>): void {
  const events = eventLogger(logger, event);
  // Flat fields (the usual case) are written by hand, the same bytes pino writes (auditLine).
  if (isFlat(fields)) auditLine(events, event, fields);
  else events.info(fields, event);
}

/** True when every field is a string, a number, a boolean or undefined (what auditLine writes). */
function isFlat(fields: Readonly<Record<string, unknown>>): fields is Readonly<Record<string, AuditValue>> {
  for (const key in fields) {
    const type = typeof fields[key];
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined') return false;
  }
  return true;
}

/** Most distinct events remembered per logger (events are constants; this only bounds a misuse). */
const MAX_EVENTS_PER_LOGGER = 256;
const eventLoggers = new WeakMap<Logger, Map<string, Logger>>();

/**
 * The child of `logger` that binds `audit: <event>`: the field is serialized once, not copied into
 * every line's fields object. Children follow their parent's level only when created, so one is
 * rebuilt whenever the parent's level changed.
 */
function eventLogger(logger: Logger, event: string): Logger {
  let events = eventLoggers.get(logger);
  if (!events) {
    events = new Map();
    eventLoggers.set(logger, events);
  }
  let child = events.get(event);
  if (child?.level !== logger.level) {
    child = logger.child({ audit: event });
    if (events.has(event) || events.size < MAX_EVENTS_PER_LOGGER) events.set(event, child);
  }
  return child;
}

/**
 * A logger for one audit event whose fixed fields (`audit: <event>` and `fixed`, e.g. a service and
 * its role) are serialized once, as pino child bindings, instead of on every line; write its lines
 * with `auditLine`. The bindings pass through the same redaction as any log object (once, here).
 */
export function auditLogger(logger: Logger, event: string, fixed: Readonly<Record<string, unknown>> = {}): Logger {
  return logger.child(redactSecrets({ audit: event, ...fixed }) as Record<string, unknown>);
}

/** The values an audit line's per-request fields may hold (anything else goes through pino). */
export type AuditValue = string | number | boolean;

/** pino's level number for `info`. */
const INFO_LEVEL = 30;

/** A field no real line has, to check that pino writes flat fields as they are given. */
const PROBE = { sidekeyAuditProbe: 'probe' } as const;
const PROBE_TEXT = ',"sidekeyAuditProbe":"probe"';

/** Per events logger: the event its template was taken for, and the template (null: pino only). */
const templates = new WeakMap<Logger, { readonly event: string; readonly template: PinoLineTemplate | null }>();

function templateFor(events: Logger, event: string): PinoLineTemplate | null {
  const known = templates.get(events);
  if (known?.event === event) return known.template;
  const template = pinoLineTemplate(events, 'info', event, PROBE, PROBE_TEXT) ?? null;
  if (template === null)
    events.warn({ line: event }, "these audit lines go through pino's slower generic path (the logger has hooks, a mixin or a prefix)");
  templates.set(events, { event, template });
  return template;
}

/**
 * One line of an `auditLogger`'s event: the same line `audit()` writes, with the fixed fields
 * bound. Flat fields (strings, numbers, booleans) are serialized here, byte for byte as pino would
 * (level, time, bindings, fields, msg), and handed to the logger's own destination: pino's generic
 * path costs the credential endpoint about half a microsecond more per request. Secret-named
 * fields are redacted exactly as on any other line.
 */
export function auditLine(events: Logger, event: string, fields: Readonly<Record<string, AuditValue>>): void {
  if (events.levelVal > INFO_LEVEL) return;
  const template = templateFor(events, event);
  if (template === null) {
    events.info(fields, event);
    return;
  }
  let body = '';
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    body += `,${JSON.stringify(key)}:`;
    if (isSecretKey(key)) body += JSON.stringify(REDACTED);
    else if (typeof value === 'number') body += Number.isFinite(value) ? String(value) : 'null';
    else body += typeof value === 'string' ? JSON.stringify(value) : String(value);
  }
  template.stream.write(`${template.prefix}${template.time()}${template.middle}${body}${template.tail}`);
}

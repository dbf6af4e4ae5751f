import { type DestinationStream, pino } from 'pino';
import { isSecretKey, type Logger, REDACTED, redactSecrets } from './logger.js';

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

/** What pino would write around an `auditLogger`'s lines, read once per logger from pino's own state. */
interface LineFrame {
  /** `{"level":"info"`, as the logger's level formatter writes it. */
  readonly head: string;
  readonly time: () => string;
  /** The bound fields (`,"front":...,"audit":...`), already redacted when the child was made. */
  readonly bindings: string;
  readonly stream: DestinationStream;
  /** The event the tail was made for, and `,"msg":"<event>"}` with the line end. */
  readonly event: string;
  readonly tail: string;
  /** `,"msg":` and the line end, for another event on the same logger. */
  readonly messageKey: string;
  readonly end: string;
}

const frames = new WeakMap<Logger, LineFrame | null>();

function lineFrame(events: Logger, event: string): LineFrame | null {
  let frame = frames.get(events);
  if (frame !== undefined) return frame;
  const state = events as unknown as Record<symbol, unknown>;
  const head = (state[pino.symbols.lsCacheSym] as Record<number, string> | undefined)?.[INFO_LEVEL];
  const time = state[pino.symbols.timeSym];
  const bindings = state[pino.symbols.chindingsSym];
  const stream = state[pino.symbols.streamSym] as DestinationStream | undefined;
  const messageKey = state[pino.symbols.messageKeySym];
  const end = state[pino.symbols.endSym];
  const usable =
    typeof head === 'string' &&
    typeof time === 'function' &&
    typeof bindings === 'string' &&
    typeof stream?.write === 'function' &&
    typeof messageKey === 'string' &&
    typeof end === 'string';
  frame = usable
    ? {
        head,
        time: time as () => string,
        bindings,
        stream,
        event,
        tail: `,${JSON.stringify(messageKey)}:${JSON.stringify(event)}${end}`,
        messageKey: `,${JSON.stringify(messageKey)}:`,
        end,
      }
    : null;
  frames.set(events, frame);
  return frame;
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
  const frame = lineFrame(events, event);
  if (frame === null) {
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
  const tail = event === frame.event ? frame.tail : `${frame.messageKey}${JSON.stringify(event)}${frame.end}`;
  frame.stream.write(`${frame.head}${frame.time()}${frame.bindings}${body}${tail}`);
}

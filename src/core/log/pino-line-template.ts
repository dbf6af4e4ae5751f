/**
 * pino's own layout of a log line, taken from pino itself, so that the guard's access line (one per
 * request, fourteen fields) can write the same bytes by hand without pino's generic path (walking
 * the object, the redaction formatter, a stringifier per key): through pino, the denied path fell
 * from 0.94x to 0.65x of nginx (docs/imds.md). Audit lines, with fewer fields, go through pino.
 *
 * The template is only given when it provably holds: pino serializes a probe, and its line must be
 * exactly the probe-less line with the probe's hand-written fields inserted at one place; and the
 * logger must have nothing that acts outside that serialization (log-method or stream-write hooks,
 * a mixin, a message prefix, a stream that wants metadata). Otherwise the caller logs through pino.
 * `pino.symbols` is pino's documented integration surface.
 */
import { pino } from 'pino';
import type { Logger } from './logger.js';

/** A line as pino lays it out: PREFIX time MIDDLE fields TAIL (level in PREFIX, bindings in MIDDLE, message in TAIL). */
export interface PinoLineTemplate {
  readonly prefix: string;
  readonly middle: string;
  readonly tail: string;
  /** The time field as the logger writes it (`,"time":"..."`). */
  readonly time: () => string;
  /** The logger's destination. */
  readonly stream: { write(line: string): unknown };
}

type PinoInternals = Record<symbol, unknown>;
const symbols = pino.symbols as typeof pino.symbols & { readonly msgPrefixSym?: symbol };

/** Stands for the time field while the template is taken (never in a real line: it is not JSON). */
const TIME_MARK = '\u0000time\u0000';

/**
 * The template of `logger`'s lines at `level` with `message`, checked with `probe` (an object of
 * the fields the caller writes) whose hand serialization is `probeText` (`,"name":value...`);
 * undefined when only pino can write these lines faithfully.
 */
export function pinoLineTemplate(
  logger: Logger,
  level: string,
  message: string,
  probe: object,
  probeText: string,
): PinoLineTemplate | undefined {
  const internals = logger as unknown as PinoInternals;
  const hooks = internals[symbols.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stream = internals[symbols.streamSym] as { write?: unknown } | undefined;
  const time = internals[symbols.timeSym];
  const asJson = internals[symbols.asJsonSym];
  if (hooks?.logMethod || hooks?.streamWrite || internals[symbols.mixinSym]) return undefined;
  if (symbols.msgPrefixSym === undefined || typeof internals[symbols.msgPrefixSym] === 'string') return undefined;
  if (typeof time !== 'function' || typeof asJson !== 'function' || typeof stream?.write !== 'function') return undefined;
  if ((stream as PinoInternals)[symbols.needsMetadataGsym] === true) return undefined;
  const num = logger.levels.values[level];
  if (num === undefined) return undefined;
  const serialize = (fields: object) => String(asJson.call(logger, fields, message, num, TIME_MARK));
  const bare = serialize({});
  const probed = serialize({ ...probe });
  const at = probed.indexOf(probeText);
  const mark = bare.indexOf(TIME_MARK);
  if (at === -1 || probed.indexOf(probeText, at + 1) !== -1) return undefined;
  if (bare !== probed.slice(0, at) + probed.slice(at + probeText.length)) return undefined;
  if (mark === -1 || bare.indexOf(TIME_MARK, mark + 1) !== -1 || mark + TIME_MARK.length > at) return undefined;
  const timeOf = time as (this: Logger) => string;
  return {
    prefix: bare.slice(0, mark),
    middle: bare.slice(mark + TIME_MARK.length, at),
    tail: bare.slice(at),
    time: () => timeOf.call(logger),
    stream: stream as { write(line: string): unknown },
  };
}

/**
 * The guard's access line, serialized by hand and written to the logger's own destination: the
 * same bytes pino would write (level, time, bindings, the same fields in the same order, the same
 * message), without pino's generic path (walking the object, the redaction formatter, a
 * stringifier per key), which was about 2 of the 3 us a line cost on the denied path.
 *
 * It is used only where it provably writes what pino would. `forLogger` has the logger itself
 * serialize a probe holding every access field, takes the line's template from that output, and
 * gives up (returning undefined: lines then go through pino) when pino's line is not exactly the
 * template with the fields in it, which is what a serializer, a redaction path or a formatter
 * touching one of these field names would cause, and when the logger has a feature that acts
 * outside that serialization (mixin, log-method or stream-write hooks, message prefix, a stream
 * that wants metadata). sidekey redacts by field name (core/log/logger.ts) and these names are
 * fixed, so the probe is the redaction check. A value that would need JSON escaping (quotes,
 * backslashes, control or non-ASCII characters) is not written here either: `write` returns
 * false and the caller logs that line through pino.
 */
import { pino } from 'pino';
import type { Logger } from '../core/log/logger.js';

/**
 * Most characters of access lines held before they are handed to the destination at once. Lines
 * written during one turn of the event loop (under load, one line per ready connection) go out in
 * one write at the end of the turn: one hand-over to the logger's buffer and its file writes
 * instead of one per line, which saved about 1 us per request on the denied path.
 */
export const MAX_BATCH_CHARS = 64 * 1024;

export interface AccessLineFields {
  readonly access: 'imds';
  readonly method: string | undefined;
  readonly target: string | undefined;
  readonly path: string | undefined;
  readonly host: string | undefined;
  readonly ua: string | undefined;
  readonly remote: string | undefined;
  readonly status: number;
  readonly decision: string;
  readonly rule: string;
  readonly caller: string | undefined;
  readonly cache: string | undefined;
  readonly detail: string | undefined;
  readonly ms: number;
}

export type AccessLevel = 'info' | 'warn';

/** A line as pino lays it out: PREFIX time MIDDLE fields TAIL (bindings in MIDDLE, message in TAIL). */
interface Template {
  readonly prefix: string;
  readonly middle: string;
  readonly tail: string;
}

/** pino's internals used here; `pino.symbols` is its documented integration surface. */
type PinoInternals = Record<symbol, unknown>;
const symbols = pino.symbols as typeof pino.symbols & { readonly msgPrefixSym?: symbol };

/** Stands for the time field while the template is taken (never in a real line: it is not JSON). */
const TIME_MARK = '\u0000time\u0000';

const PROBE: AccessLineFields = {
  access: 'imds',
  method: 'PROBE',
  target: '/probe/target',
  path: '/probe/path',
  host: 'probe.host:1',
  ua: 'probe-agent/1.0',
  remote: '192.0.2.1',
  status: 418,
  decision: 'probe-decision',
  rule: 'probe:rule',
  caller: 'probe-caller',
  cache: 'probe-cache',
  detail: 'probe detail',
  ms: 1.25,
};

/** Printable ASCII but quote and backslash: what JSON writes as is, between quotes (a regular expression scans faster than a loop). */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** True when JSON writes `value` as `"value"`. */
const isPlain = (value: string): boolean => PLAIN.test(value);

const plainOrAbsent = (value: string | undefined): boolean => value === undefined || isPlain(value);

/** The fields as pino writes them (leading comma, undefined left out), or undefined when one needs escaping. */
function serializeFields(f: AccessLineFields): string | undefined {
  if (
    !plainOrAbsent(f.method) ||
    !plainOrAbsent(f.target) ||
    !plainOrAbsent(f.path) ||
    !plainOrAbsent(f.host) ||
    !plainOrAbsent(f.ua) ||
    !plainOrAbsent(f.remote) ||
    !isPlain(f.decision) ||
    !isPlain(f.rule) ||
    !plainOrAbsent(f.caller) ||
    !plainOrAbsent(f.cache) ||
    !plainOrAbsent(f.detail) ||
    !Number.isFinite(f.status) ||
    !Number.isFinite(f.ms)
  ) {
    return undefined;
  }
  let out = ',"access":"imds"';
  if (f.method !== undefined) out += `,"method":"${f.method}"`;
  if (f.target !== undefined) out += `,"target":"${f.target}"`;
  if (f.path !== undefined) out += `,"path":"${f.path}"`;
  if (f.host !== undefined) out += `,"host":"${f.host}"`;
  if (f.ua !== undefined) out += `,"ua":"${f.ua}"`;
  if (f.remote !== undefined) out += `,"remote":"${f.remote}"`;
  out += `,"status":${f.status},"decision":"${f.decision}","rule":"${f.rule}"`;
  if (f.caller !== undefined) out += `,"caller":"${f.caller}"`;
  if (f.cache !== undefined) out += `,"cache":"${f.cache}"`;
  if (f.detail !== undefined) out += `,"detail":"${f.detail}"`;
  return `${out},"ms":${f.ms}`;
}

/** Access lines with a batch not yet handed over; the exit hook empties them. */
const pendingBatches = new Set<AccessLine>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const line of [...pendingBatches]) {
      line.flush();
      line.flushDestinationSync();
    }
  });
}

export class AccessLine {
  /** The message of every access line. */
  static readonly MESSAGE = 'imds request';

  readonly #logger: Logger;
  readonly #time: () => string;
  readonly #stream: { write(line: string): unknown };
  readonly #info: Template;
  readonly #warn: Template;
  /** Lines written this turn, not yet handed to the destination. */
  #batch = '';
  readonly #flush = () => this.flush();

  private constructor(logger: Logger, time: () => string, stream: { write(line: string): unknown }, info: Template, warn: Template) {
    this.#logger = logger;
    this.#time = time;
    this.#stream = stream;
    this.#info = info;
    this.#warn = warn;
  }

  /** The hand-written line for this logger, or undefined when only pino can write its lines faithfully. */
  static forLogger(logger: Logger): AccessLine | undefined {
    const internals = logger as unknown as PinoInternals;
    const hooks = internals[symbols.hooksSym] as { logMethod?: unknown; streamWrite?: unknown } | undefined;
    const stream = internals[symbols.streamSym] as { write?: unknown } | undefined;
    const time = internals[symbols.timeSym];
    const asJson = internals[symbols.asJsonSym];
    if (hooks?.logMethod || hooks?.streamWrite || internals[symbols.mixinSym]) return undefined;
    if (symbols.msgPrefixSym === undefined || typeof internals[symbols.msgPrefixSym] === 'string') return undefined;
    if (typeof time !== 'function' || typeof asJson !== 'function' || typeof stream?.write !== 'function') return undefined;
    if ((stream as PinoInternals)[symbols.needsMetadataGsym] === true) return undefined;
    const template = (level: AccessLevel): Template | undefined => {
      const num = logger.levels.values[level];
      if (num === undefined) return undefined;
      const serialize = (fields: object) => String(asJson.call(logger, fields, AccessLine.MESSAGE, num, TIME_MARK));
      const bare = serialize({});
      const probed = serialize({ ...PROBE });
      const fields = serializeFields(PROBE) as string;
      const at = probed.indexOf(fields);
      const mark = bare.indexOf(TIME_MARK);
      if (at === -1 || probed.indexOf(fields, at + 1) !== -1) return undefined;
      if (bare !== probed.slice(0, at) + probed.slice(at + fields.length)) return undefined;
      if (mark === -1 || bare.indexOf(TIME_MARK, mark + 1) !== -1 || mark + TIME_MARK.length > at) return undefined;
      return { prefix: bare.slice(0, mark), middle: bare.slice(mark + TIME_MARK.length, at), tail: bare.slice(at) };
    };
    const info = template('info');
    const warn = template('warn');
    if (!info || !warn) return undefined;
    const timeOf = time as (this: Logger) => string;
    installExitHook();
    return new AccessLine(logger, () => timeOf.call(logger), stream as { write(line: string): unknown }, info, warn);
  }

  /** Writes one line; false (nothing written) when a value needs escaping: log it through pino then. */
  write(level: AccessLevel, fields: AccessLineFields): boolean {
    const body = serializeFields(fields);
    if (body === undefined) return false;
    const t = level === 'warn' ? this.#warn : this.#info;
    const line = t.prefix + this.#time() + t.middle + body + t.tail;
    if (this.#batch.length === 0) {
      setImmediate(this.#flush);
      pendingBatches.add(this);
    }
    this.#batch += line;
    if (this.#batch.length >= MAX_BATCH_CHARS) this.flush();
    return true;
  }

  /** Hands the lines written so far to the destination (end of turn, a full batch, or exit). */
  flush(): void {
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = '';
    pendingBatches.delete(this);
    this.#stream.write(batch);
  }

  /** At exit, after flush: the destination's own exit hook ran already, so push its buffer out now. */
  flushDestinationSync(): void {
    try {
      (this.#stream as { flushSync?: () => void }).flushSync?.();
    } catch {
      // Not open yet, or already closed: nothing more can be written at exit.
    }
  }

  /** The logger these lines are written for (tests compare against its own output). */
  get logger(): Logger {
    return this.#logger;
  }
}

/**
 * The guard's access line, serialized by hand and written to the logger's own destination: the
 * same bytes pino would write (level, time, bindings, the same fields in the same order, the same
 * message), without pino's generic path (walking the object, the redaction formatter, a
 * stringifier per key), which is most of what a line costs: on the denied path, the line is most of
 * the work (docs/imds.md, Benchmark, has the measurement).
 *
 * It is used only where it provably writes what pino would: `forLogger` takes the line's template
 * from pino itself (core/log/pino-line-template.ts) with a probe holding every access field, and
 * gives up (returning undefined: lines then go through pino) when pino's line is not exactly the
 * template with the fields in it, which is what a serializer, a redaction path or a formatter
 * touching one of these field names would cause, or when the logger has a feature that acts
 * outside that serialization. sidekey redacts by field name (core/log/logger.ts) and these names are
 * fixed, so the probe is the redaction check. A value that would need JSON escaping (quotes,
 * backslashes, control or non-ASCII characters) is not written here either: `write` returns
 * false and the caller logs that line through pino.
 */
import { FdLineWriter } from '../core/log/fd-line-writer.js';
import type { Logger } from '../core/log/logger.js';
import { pinoLineTemplate, type PinoLineTemplate as Template } from '../core/log/pino-line-template.js';

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

/** `,"name":"value"`, or nothing for an absent value (pino leaves undefined out). */
const field = (name: string, value: string | undefined): string => (value === undefined ? '' : `,"${name}":"${value}"`);

/** What a reply contributes to its line; the same reply object (a cached refusal) reuses it. */
export interface AccessReplyFacts {
  readonly path?: string | undefined;
  readonly status: number;
  readonly decision: string;
  readonly rule: string;
  /** Empty strings are left out, like undefined. */
  readonly caller?: string | undefined;
  readonly cache?: string | undefined;
  readonly detail?: string | undefined;
}

interface ReplyParts {
  /** `,"path":"..."` or nothing. */
  readonly path: string;
  /** `,"status":...,"decision":...,"rule":...` then caller, cache and detail when set. */
  readonly outcome: string;
}

function replyParts(r: AccessReplyFacts): ReplyParts | undefined {
  const caller = r.caller || undefined;
  const cache = r.cache || undefined;
  const detail = r.detail || undefined;
  if (!plainOrAbsent(r.path) || !isPlain(r.decision) || !isPlain(r.rule) || !Number.isFinite(r.status)) return undefined;
  if (!plainOrAbsent(caller) || !plainOrAbsent(cache) || !plainOrAbsent(detail)) return undefined;
  return {
    path: field('path', r.path),
    outcome: `,"status":${r.status},"decision":"${r.decision}","rule":"${r.rule}"${field('caller', caller)}${field('cache', cache)}${field('detail', detail)}`,
  };
}

/** The whole field list as pino writes it (leading comma), or undefined when a value needs escaping. */
function fieldsText(
  method: string | undefined,
  target: string | undefined,
  host: string | undefined,
  ua: string | undefined,
  remotePart: string,
  reply: ReplyParts,
  ms: number,
): string | undefined {
  if (!plainOrAbsent(method) || !plainOrAbsent(target) || !plainOrAbsent(host) || !plainOrAbsent(ua) || !Number.isFinite(ms))
    return undefined;
  return `,"access":"imds"${field('method', method)}${field('target', target)}${reply.path}${field('host', host)}${field('ua', ua)}${remotePart}${reply.outcome},"ms":${ms}`;
}

/** The fields as pino writes them, or undefined when one needs escaping (the probe and `write` use it). */
function serializeFields(f: AccessLineFields): string | undefined {
  const reply = replyParts(f);
  if (reply === undefined || !plainOrAbsent(f.remote)) return undefined;
  return fieldsText(f.method, f.target, f.host, f.ua, field('remote', f.remote), reply, f.ms);
}

/** How far the monotonic clock moves before writeRequest reads the wall clock (pino's time field) again, in milliseconds. */
export const TIME_REREAD_MS = 1;

/** Durations below this many microseconds get their line ending made once (a synchronous answer takes a few). */
export const CACHED_ENDING_MICROS = 1000;

/**
 * `,"ms":<duration><template tail>` for one level's template: the end of every line, the only part
 * that is new per request. Durations are rounded to the microsecond, so those under
 * CACHED_ENDING_MICROS repeat and each ending is made once.
 */
class LineEndings {
  readonly #tail: string;
  readonly #byMicros: (string | undefined)[] = new Array(CACHED_ENDING_MICROS).fill(undefined);

  constructor(tail: string) {
    this.#tail = tail;
  }

  /** Cached only for a duration rounded to three decimals as record rounds it (micros / 1000): then equal micros mean the same text. */
  of(ms: number): string {
    const micros = Math.round(ms * 1000);
    if (micros < 0 || micros >= CACHED_ENDING_MICROS || micros / 1000 !== ms) return `,"ms":${ms}${this.#tail}`;
    let ending = this.#byMicros[micros];
    if (ending === undefined) {
      ending = `,"ms":${ms}${this.#tail}`;
      this.#byMicros[micros] = ending;
    }
    return ending;
  }
}

/** One string field's last value and its serialized part (`,"name":"value"`, or nothing when absent). */
class LastField {
  readonly #name: string;
  value: string | undefined;
  part = '';

  constructor(name: string) {
    this.#name = name;
  }

  /** Takes `value`; false (nothing changed) when it needs JSON escaping. */
  set(value: string | undefined): boolean {
    if (!plainOrAbsent(value)) return false;
    this.value = value;
    this.part = field(this.#name, value);
    return true;
  }
}

export class AccessLine {
  /** The message of every access line. */
  static readonly MESSAGE = 'imds request';

  readonly #logger: Logger;
  readonly #time: () => string;
  readonly #stream: { write(line: string): unknown };
  /** The stream, when it is the daemon's buffered writer: lines then go in as bytes (writeParts). */
  readonly #writer: FdLineWriter | undefined;
  readonly #info: Template;
  readonly #warn: Template;
  readonly #infoEndings: LineEndings;
  readonly #warnEndings: LineEndings;
  /** The last reply written and its parts of the line (reply objects never change). */
  #lastReply: AccessReplyFacts | undefined;
  #lastReplyParts: ReplyParts | undefined;
  readonly #method = new LastField('method');
  readonly #target = new LastField('target');
  readonly #host = new LastField('host');
  readonly #ua = new LastField('ua');
  readonly #remote = new LastField('remote');
  /** `{"level":...,"time":...` bindings and `,"access":"imds"`, for the time and template below. */
  #head = '';
  #headBytes: Buffer = Buffer.alloc(0);
  #headTime = '';
  #headTemplate: Template | undefined;
  /** The monotonic reading (performance.now()) when the time field was last read. */
  #headReadAt = Number.NEGATIVE_INFINITY;
  /** The fields from method to the reply's outcome, rebuilt when one of them changes. */
  #body = '';
  #bodyBytes: Buffer = Buffer.alloc(0);
  #bodyStale = true;

  private constructor(logger: Logger, time: () => string, stream: { write(line: string): unknown }, info: Template, warn: Template) {
    this.#logger = logger;
    this.#time = time;
    this.#stream = stream;
    this.#writer = stream instanceof FdLineWriter ? stream : undefined;
    this.#info = info;
    this.#warn = warn;
    this.#infoEndings = new LineEndings(info.tail);
    this.#warnEndings = new LineEndings(warn.tail);
  }

  /** The hand-written line for this logger, or undefined when only pino can write its lines faithfully. */
  static forLogger(logger: Logger): AccessLine | undefined {
    const probeText = serializeFields(PROBE) as string;
    const info = pinoLineTemplate(logger, 'info', AccessLine.MESSAGE, PROBE, probeText);
    const warn = pinoLineTemplate(logger, 'warn', AccessLine.MESSAGE, PROBE, probeText);
    if (!info || !warn) return undefined;
    return new AccessLine(logger, info.time, info.stream, info, warn);
  }

  /** Writes one line; false (nothing written) when a value needs escaping: log it through pino then. */
  write(level: AccessLevel, fields: AccessLineFields): boolean {
    const body = serializeFields(fields);
    if (body === undefined) return false;
    this.#add(level, body);
    return true;
  }

  /**
   * `write` for one guard request, without building the field object. What repeats from line to
   * line (the level, time and bindings within a millisecond, the method, target, host, user agent,
   * peer and reply: a flood of one denied target repeats them all) is serialized and encoded once
   * and reused; only the duration is new. `now`, a performance.now() reading, lets the time field
   * be reused until the monotonic clock has moved TIME_REREAD_MS (the guard passes the reading it
   * took for the duration).
   */
  writeRequest(
    level: AccessLevel,
    method: string | undefined,
    target: string | undefined,
    host: string | undefined,
    ua: string | undefined,
    remote: string | undefined,
    reply: AccessReplyFacts,
    ms: number,
    now?: number,
  ): boolean {
    const parts = this.#replyParts(reply);
    if (parts === undefined || !Number.isFinite(ms)) return false;
    if (target !== this.#target.value && !this.#change(this.#target, target)) return false;
    if (method !== this.#method.value && !this.#change(this.#method, method)) return false;
    if (host !== this.#host.value && !this.#change(this.#host, host)) return false;
    if (ua !== this.#ua.value && !this.#change(this.#ua, ua)) return false;
    if (remote !== this.#remote.value && !this.#change(this.#remote, remote)) return false;
    const t = level === 'warn' ? this.#warn : this.#info;
    // The wall clock is read again once the monotonic reading has moved a millisecond (or always,
    // without one): the time field is pino's, late by less than a millisecond at most.
    if (now === undefined || now - this.#headReadAt >= TIME_REREAD_MS || t !== this.#headTemplate) {
      const time = this.#time();
      this.#headReadAt = now ?? Number.NEGATIVE_INFINITY;
      if (time !== this.#headTime || t !== this.#headTemplate) {
        this.#headTime = time;
        this.#headTemplate = t;
        this.#head = `${t.prefix}${time}${t.middle},"access":"imds"`;
        if (this.#writer) this.#headBytes = Buffer.from(this.#head, 'utf8');
      }
    }
    if (this.#bodyStale) {
      this.#body = `${this.#method.part}${this.#target.part}${parts.path}${this.#host.part}${this.#ua.part}${this.#remote.part}${parts.outcome}`;
      // Every part passed isPlain: ASCII, so one byte per character.
      if (this.#writer) this.#bodyBytes = Buffer.from(this.#body, 'latin1');
      this.#bodyStale = false;
    }
    const ending = (level === 'warn' ? this.#warnEndings : this.#infoEndings).of(ms);
    if (this.#writer) this.#writer.writeParts(this.#headBytes, this.#bodyBytes, ending);
    else this.#stream.write(`${this.#head}${this.#body}${ending}`);
    return true;
  }

  /** Takes a new value for one field (false when it needs escaping); the body is rebuilt before the next line. */
  #change(field: LastField, value: string | undefined): boolean {
    if (!field.set(value)) return false;
    this.#bodyStale = true;
    return true;
  }

  #replyParts(reply: AccessReplyFacts): ReplyParts | undefined {
    if (reply === this.#lastReply && this.#lastReplyParts !== undefined) return this.#lastReplyParts;
    const parts = replyParts(reply);
    if (parts !== undefined) {
      this.#lastReply = reply;
      this.#lastReplyParts = parts;
      this.#bodyStale = true;
    }
    return parts;
  }

  /** One line, straight to the destination (the daemon's destination buffers lines and writes 64 KiB at a time). */
  #add(level: AccessLevel, body: string): void {
    const t = level === 'warn' ? this.#warn : this.#info;
    this.#stream.write(t.prefix + this.#time() + t.middle + body + t.tail);
  }

  /** The logger these lines are written for (tests compare against its own output). */
  get logger(): Logger {
    return this.#logger;
  }
}

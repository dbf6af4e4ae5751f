/**
 * One access log line per request (nginx's access-log fields and the decision) and the guard's metrics. No header
 * value but Host and User-Agent is ever logged, so no token reaches the log; the raw target is
 * logged (truncated) because it is what an attack looks like.
 */
import { type Logger, REDACTED } from '../core/log/logger.js';
import type { Counter, CounterHandle, HistogramHandle, MetricsRegistry } from '../core/metrics/metrics-registry.js';
import { durationSeries, requestDurations } from '../net/request-durations.js';
import { AccessLine, type AccessLineFields } from './access-line.js';
import type { GuardReply } from './guard-reply.js';

/**
 * The access line has a fixed shape built below, with no secret-bearing field, so it is logged
 * through a child with narrow, non-wildcard redaction: pino's redactor with the daemon-wide
 * wildcard paths costs many times the line itself and would cap the guard at a few thousand
 * requests per second. These paths stay as a backstop.
 */
const ACCESS_REDACT_PATHS = ['token', 'authorization', 'headers', 'x-aws-ec2-metadata-token'];

/** Longest raw target or header value written to a log line, in characters. */
export const MAX_LOGGED_CHARS = 512;

/** What the line says about the request itself (a parsed head, or what a refused head had). */
export interface AccessRequest {
  readonly method?: string | undefined;
  readonly target?: string | undefined;
  readonly host?: string | undefined;
  readonly userAgent?: string | undefined;
}

const clip = (value: string | undefined) =>
  value === undefined ? undefined : value.length > MAX_LOGGED_CHARS ? `${value.slice(0, MAX_LOGGED_CHARS)}...` : value;

/** A counter series bound once, remembered by rule (the common case: one decision and caller per rule). */
interface Series {
  readonly decision: string;
  readonly caller: string;
  readonly handle: CounterHandle;
}

export class AccessLog {
  readonly #logger: Logger;
  readonly #line: AccessLine | undefined;
  readonly #requests: Counter;
  readonly #cache: Counter;
  readonly #durations: (status: number) => HistogramHandle;
  /** Series by rule (one lookup, no key built per request); other combinations go to #series. */
  readonly #byRule = new Map<string, Series>();
  /** Counter series by `decision rule caller`, their label keys built once (rules and callers come from config). */
  readonly #series = new Map<string, CounterHandle>();
  /** Most series remembered; past it (never with a sane config) keys are built per request. */
  static readonly MAX_SERIES = 4096;

  /** The service a source address maps to in per-caller mode (metrics of requests not answered per caller). */
  readonly #callerOf: (remote: string | undefined) => string | undefined;

  constructor(logger: Logger, metrics: MetricsRegistry, callerOf: (remote: string | undefined) => string | undefined = () => undefined) {
    this.#callerOf = callerOf;
    this.#logger = logger.child({}, { redact: { paths: ACCESS_REDACT_PATHS, censor: REDACTED } });
    this.#line = AccessLine.forLogger(this.#logger);
    if (!this.#line)
      this.#logger.warn(
        "access lines go through pino's slower generic path (the logger has hooks, a mixin, a prefix or redaction of an access field)",
      );
    this.#requests = metrics.counter(
      'sidekey_imds_requests_total',
      'Metadata guard requests by decision, deciding rule and caller service.',
      ['decision', 'rule', 'caller'],
    );
    this.#durations = durationSeries(requestDurations(metrics), 'imds');
    this.#cache = metrics.counter('sidekey_imds_cache_total', 'Metadata guard static-cache lookups by result (hit, miss).', ['result']);
  }

  /** `startedAt` is a performance.now() reading taken when the head was complete. */
  record(request: AccessRequest, remote: string | undefined, startedAt: number, reply: GuardReply): void {
    const now = performance.now();
    const ms = now - startedAt;
    this.#count(reply, remote);
    this.#durations(reply.status).observe(ms / 1000);
    if (reply.cache) this.#cache.inc({ result: reply.cache });
    const level = reply.decision === 'error' ? 'warn' : 'info';
    if (!this.#logger.isLevelEnabled(level)) return;
    const target = clip(request.target);
    const host = clip(request.host);
    const ua = clip(request.userAgent);
    const rounded = Math.round(ms * 1000) / 1000;
    // The hand-written line when the logger allows it (AccessLine says when), else pino itself.
    if (this.#line?.writeRequest(level, request.method, target, host, ua, remote, reply, rounded, now)) return;
    // One shape for every line (absent fields are undefined, which pino leaves out): no spreads.
    const fields: AccessLineFields = {
      access: 'imds',
      method: request.method,
      target,
      path: reply.path,
      host,
      ua,
      remote,
      status: reply.status,
      decision: reply.decision,
      rule: reply.rule,
      caller: reply.caller || undefined,
      cache: reply.cache || undefined,
      detail: reply.detail || undefined,
      ms: rounded,
    };
    if (level === 'warn') this.#logger.warn(fields, AccessLine.MESSAGE);
    else this.#logger.info(fields, AccessLine.MESSAGE);
  }

  /** Counts the request under its decision, rule and caller: the service that answered, else the one the source address maps to. */
  #count(reply: GuardReply, remote: string | undefined): void {
    const caller = reply.caller ?? this.#callerOf(remote) ?? '';
    const known = this.#byRule.get(reply.rule);
    if (known !== undefined && known.decision === reply.decision && known.caller === caller) {
      known.handle.inc();
      return;
    }
    const key = `${reply.decision} ${reply.rule} ${caller}`;
    let handle = this.#series.get(key);
    if (handle === undefined) {
      handle = this.#requests.labels({ decision: reply.decision, rule: reply.rule, caller });
      if (this.#series.size < AccessLog.MAX_SERIES) {
        this.#series.set(key, handle);
        if (known === undefined) this.#byRule.set(reply.rule, { decision: reply.decision, caller, handle });
      }
    }
    handle.inc();
  }
}

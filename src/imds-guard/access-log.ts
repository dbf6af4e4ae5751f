/**
 * One access log line per request (seed 002's fields and more) and the guard's metrics. No header
 * value but Host and User-Agent is ever logged, so no token reaches the log; the raw target is
 * logged (truncated) because it is what an attack looks like.
 */
import { type Logger, REDACTED } from '../core/log/logger.js';
import type { Counter, CounterHandle, MetricsRegistry } from '../core/metrics/metrics-registry.js';
import type { GuardReply } from './guard-reply.js';

/**
 * The access line has a fixed shape built below, with no secret-bearing field, so it is logged
 * through a child with narrow, non-wildcard redaction: the daemon-wide wildcard paths cost about
 * 185 us per line in pino's redactor (30 times the line itself), which would cap the guard at a
 * few thousand requests per second. These paths stay as a backstop.
 */
const ACCESS_REDACT_PATHS = ['token', 'authorization', 'headers', 'x-aws-ec2-metadata-token'];

/** Longest raw target or header value written to a log line, in characters. */
export const MAX_LOGGED_CHARS = 512;

export interface AccessFacts {
  readonly method: string | undefined;
  readonly target: string | undefined;
  readonly host: string | undefined;
  readonly userAgent: string | undefined;
  readonly remote: string | undefined;
  readonly startedAt: bigint;
}

const clip = (value: string | undefined) =>
  value === undefined ? undefined : value.length > MAX_LOGGED_CHARS ? `${value.slice(0, MAX_LOGGED_CHARS)}...` : value;

export class AccessLog {
  readonly #logger: Logger;
  readonly #requests: Counter;
  readonly #cache: Counter;
  /** Counter series by `decision rule caller`, their label keys built once (rules and callers come from config). */
  readonly #series = new Map<string, CounterHandle>();
  /** Most series remembered; past it (never with a sane config) keys are built per request. */
  static readonly MAX_SERIES = 4096;

  constructor(logger: Logger, metrics: MetricsRegistry) {
    this.#logger = logger.child({}, { redact: { paths: ACCESS_REDACT_PATHS, censor: REDACTED } });
    this.#requests = metrics.counter(
      'sidekey_imds_requests_total',
      'Metadata guard requests by decision, deciding rule and caller service.',
    );
    this.#cache = metrics.counter('sidekey_imds_cache_total', 'Metadata guard static-cache lookups by result (hit, miss).');
  }

  record(facts: AccessFacts, reply: GuardReply): void {
    const ms = Number(process.hrtime.bigint() - facts.startedAt) / 1e6;
    const caller = reply.caller ?? '';
    const key = `${reply.decision} ${reply.rule} ${caller}`;
    let series = this.#series.get(key);
    if (series === undefined) {
      series = this.#requests.labels({ decision: reply.decision, rule: reply.rule, caller });
      if (this.#series.size < AccessLog.MAX_SERIES) this.#series.set(key, series);
    }
    series.inc();
    if (reply.cache) this.#cache.inc({ result: reply.cache });
    // One shape for every line (absent fields are undefined, which pino leaves out): no spreads.
    const line = {
      access: 'imds',
      method: facts.method,
      target: clip(facts.target),
      path: reply.path,
      host: clip(facts.host),
      ua: clip(facts.userAgent),
      remote: facts.remote,
      status: reply.status,
      decision: reply.decision,
      rule: reply.rule,
      caller: reply.caller || undefined,
      cache: reply.cache || undefined,
      detail: reply.detail || undefined,
      ms: Math.round(ms * 1000) / 1000,
    };
    if (reply.decision === 'error') this.#logger.warn(line, 'imds request');
    else this.#logger.info(line, 'imds request');
  }
}

/**
 * The daemon's metrics, exposed by prom-client: its registry renders the text format, collects the
 * standard process and Node runtime metrics (`process_cpu_seconds_total`, `process_open_fds`,
 * `nodejs_eventloop_lag_seconds`, heap sizes, ...) and keeps the latency histograms.
 *
 * Counters and histograms keep their own per-series cells, which prom-client reads at scrape time:
 * a request path adds to numbers held by a handle bound once, where prom-client's own `inc` and
 * `observe` validate and hash the label object on every call (docs/metrics.md has what that cost).
 * Label names are declared per family and checked when a series is made.
 */
import { collectDefaultMetrics, type Metric, Counter as PromCounter, Gauge as PromGauge, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One counter series with its labels bound once: what a hot path increments. */
export interface CounterHandle {
  inc(amount?: number): void;
}

export interface Counter {
  inc(labels?: Labels, amount?: number): void;
  /** The series for these labels, to increment without looking it up each time. */
  labels(labels: Labels): CounterHandle;
}

/** One histogram series with its labels bound once. */
export interface HistogramHandle {
  /** Records one duration, in seconds. */
  observe(seconds: number): void;
}

export interface Histogram {
  /** Records one duration, in seconds. */
  observe(labels: Labels, seconds: number): void;
  /** The series for these labels, to record into without looking it up each time. */
  labels(labels: Labels): HistogramHandle;
}

/** Latency buckets in seconds, from a cached answer (sub-millisecond) to a slow AWS call. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

interface Cell {
  readonly labels: Labels;
  value: number;
}

interface HistogramCell {
  readonly labels: Labels;
  /** Observations per bucket (not cumulative), the last slot counting those above every bound. */
  readonly counts: number[];
  sum: number;
  count: number;
}

/** A series' cell, found by its labels in name order; labels not declared for the family are refused. */
function cellOf<T>(name: string, cells: Map<string, T>, declared: ReadonlySet<string>, labels: Labels, make: (sorted: Labels) => T): T {
  const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = JSON.stringify(sorted);
  let found = cells.get(key);
  if (!found) {
    for (const [label] of sorted) if (!declared.has(label)) throw new Error(`${name} has no label ${label}`);
    found = make(Object.fromEntries(sorted));
    cells.set(key, found);
  }
  return found;
}

export interface MetricsRegistryOptions {
  /** Also collect prom-client's process and Node runtime metrics (the daemon does; tests and CLIs need not). */
  readonly processMetrics?: boolean;
}

export class MetricsRegistry {
  readonly #registry = new Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #histograms = new Map<string, Histogram>();
  /** Each callback gauge's current reader, by name. */
  readonly #gaugeReaders = new Map<string, { collect: () => Iterable<readonly [Labels, number]> }>();

  constructor(options: MetricsRegistryOptions = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.#registry });
  }

  /** The Content-Type of `render`'s text. */
  get contentType(): string {
    return this.#registry.contentType;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const existing = this.#counters.get(name);
    if (existing) return existing;
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    const cells = new Map<string, Cell>();
    const declared = new Set(labelNames);
    new PromCounter({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const cell of cells.values()) this.inc(cell.labels, cell.value);
      },
    });
    const cell = (labels: Labels): Cell => cellOf(name, cells, declared, labels, (sorted) => ({ labels: sorted, value: 0 }));
    const counter: Counter = {
      inc: (labels = {}, amount = 1) => {
        cell(labels).value += amount;
      },
      labels: (labels) => {
        const bound = cell(labels);
        return {
          inc: (amount = 1) => {
            bound.value += amount;
          },
        };
      },
    };
    this.#counters.set(name, counter);
    return counter;
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = LATENCY_BUCKETS_SECONDS): Histogram {
    const existing = this.#histograms.get(name);
    if (existing) return existing;
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    if (labelNames.includes('le')) throw new Error(`${name}: le is the bucket label of every histogram`);
    const bounds = [...buckets].sort((a, b) => a - b);
    const cells = new Map<string, HistogramCell>();
    const declared = new Set(labelNames);
    const cell = (labels: Labels): HistogramCell =>
      cellOf(name, cells, declared, labels, () => ({
        // Labels in their declared order, as prom-client wrote them.
        labels: Object.fromEntries(labelNames.filter((l) => labels[l] !== undefined).map((l) => [l, labels[l] as string])),
        counts: new Array<number>(bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      }));
    const record = (series: HistogramCell, seconds: number) => {
      // A reading that is not a number would make _sum NaN for the rest of the process.
      if (!Number.isFinite(seconds)) return;
      let i = 0;
      while (i < bounds.length && seconds > (bounds[i] as number)) i++;
      series.counts[i] = (series.counts[i] as number) + 1;
      series.sum += seconds;
      series.count += 1;
    };
    // The family as prom-client renders a histogram: cumulative `_bucket` series (`le` first), then `_sum` and `_count`.
    const family = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: async () => {
        const values: { metricName: string; labels: Readonly<Record<string, string | number>>; value: number }[] = [];
        for (const series of cells.values()) {
          let cumulative = 0;
          for (let i = 0; i <= bounds.length; i++) {
            cumulative += series.counts[i] as number;
            const le = i < bounds.length ? (bounds[i] as number) : '+Inf';
            values.push({ metricName: `${name}_bucket`, labels: { le, ...series.labels }, value: cumulative });
          }
          values.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum });
          values.push({ metricName: `${name}_count`, labels: series.labels, value: series.count });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
      // Zeroed, not dropped: request paths hold handles to these cells.
      reset: () => {
        for (const series of cells.values()) {
          series.counts.fill(0);
          series.sum = 0;
          series.count = 0;
        }
      },
    };
    this.#registry.registerMetric(family as unknown as Metric);
    const histogram: Histogram = {
      observe: (labels, seconds) => record(cell(labels), seconds),
      labels: (labels) => {
        const bound = cell(labels);
        return { observe: (seconds) => record(bound, seconds) };
      },
    };
    this.#histograms.set(name, histogram);
    return histogram;
  }

  /** A gauge whose values are read at scrape time. */
  gaugeCallback(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<readonly [Labels, number]>): void {
    // A front started again on the same registry reads through its new state.
    const known = this.#gaugeReaders.get(name);
    if (known) {
      known.collect = collect;
      return;
    }
    const reader = { collect };
    this.#gaugeReaders.set(name, reader);
    new PromGauge({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [labels, value] of reader.collect()) this.set(labels, value);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }
}

/**
 * The daemon's metrics, exposed by prom-client: its registry renders the text format, collects the
 * standard process and Node runtime metrics (`process_cpu_seconds_total`, `process_open_fds`,
 * `nodejs_eventloop_lag_seconds`, heap sizes, ...) and keeps the latency histograms.
 *
 * Counters keep their own per-series cells, which prom-client reads at scrape time: a request path
 * increments a number held by a handle bound once, where prom-client's own `inc` hashes the label
 * object on every call. Label names are declared per family and checked when a series is made.
 */
import { collectDefaultMetrics, Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry } from 'prom-client';

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

export interface Histogram {
  /** Records one duration, in seconds. */
  observe(labels: Labels, seconds: number): void;
}

/** Latency buckets in seconds, from a cached answer (sub-millisecond) to a slow AWS call. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

interface Cell {
  readonly labels: Labels;
  value: number;
}

export interface MetricsRegistryOptions {
  /** Also collect prom-client's process and Node runtime metrics (the daemon does; tests and CLIs need not). */
  readonly processMetrics?: boolean;
}

export class MetricsRegistry {
  readonly #registry = new Registry();
  readonly #counters = new Map<string, Counter>();
  readonly #histograms = new Map<string, Histogram>();

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
    const cell = (labels: Labels): Cell => {
      const sorted = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const key = JSON.stringify(sorted);
      let found = cells.get(key);
      if (!found) {
        for (const [label] of sorted) if (!declared.has(label)) throw new Error(`${name} has no label ${label}`);
        found = { labels: Object.fromEntries(sorted), value: 0 };
        cells.set(key, found);
      }
      return found;
    };
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
    const family = new PromHistogram({ name, help, labelNames, buckets: [...buckets], registers: [this.#registry] });
    const histogram: Histogram = { observe: (labels, seconds) => family.observe(labels, seconds) };
    this.#histograms.set(name, histogram);
    return histogram;
  }

  /** A gauge whose values are read at scrape time. */
  gaugeCallback(name: string, help: string, labelNames: readonly string[], collect: () => Iterable<readonly [Labels, number]>): void {
    new PromGauge({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      collect() {
        this.reset();
        for (const [labels, value] of collect()) this.set(labels, value);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }
}

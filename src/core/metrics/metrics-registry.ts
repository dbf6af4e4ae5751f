/** A small Prometheus text-format registry: counters and gauges with labels. */

type Labels = Readonly<Record<string, string>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k] as string)}"`).join(',')}}`;
}

export interface Counter {
  inc(labels?: Labels, amount?: number): void;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  remove(labels: Labels): void;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly values: Map<string, number>;
  readonly collect?: () => Iterable<readonly [Labels, number]>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  #family(name: string, help: string, type: Family['type'], collect?: Family['collect']): Family {
    if (!METRIC_NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    const existing = this.#families.get(name);
    if (existing) return existing;
    const family: Family = { name, help, type, values: new Map(), ...(collect ? { collect } : {}) };
    this.#families.set(name, family);
    return family;
  }

  counter(name: string, help: string): Counter {
    const family = this.#family(name, help, 'counter');
    return {
      inc: (labels = {}, amount = 1) => {
        const key = labelKey(labels);
        family.values.set(key, (family.values.get(key) ?? 0) + amount);
      },
    };
  }

  gauge(name: string, help: string): Gauge {
    const family = this.#family(name, help, 'gauge');
    return {
      set: (labels, value) => family.values.set(labelKey(labels), value),
      remove: (labels) => family.values.delete(labelKey(labels)),
    };
  }

  /** A gauge whose values are read at scrape time. */
  gaugeCallback(name: string, help: string, collect: () => Iterable<readonly [Labels, number]>): void {
    this.#family(name, help, 'gauge', collect);
  }

  render(): string {
    const lines: string[] = [];
    for (const family of this.#families.values()) {
      lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
      for (const [key, value] of family.values) lines.push(`${family.name}${key} ${value}`);
      if (family.collect) for (const [labels, value] of family.collect()) lines.push(`${family.name}${labelKey(labels)} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** A small Prometheus text-format registry: counters and gauges with labels. */

type Labels = Readonly<Record<string, string>>;

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabel(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** Label names are few and usually passed in order already: sort only when they are not. */
function sortedNames(labels: Labels): string[] {
  const keys = Object.keys(labels);
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) return keys.sort();
  }
  return keys;
}

function labelKey(labels: Labels): string {
  const keys = sortedNames(labels);
  if (keys.length === 0) return '';
  let key = '{';
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i] as string;
    key += `${i === 0 ? '' : ','}${name}="${escapeLabel(labels[name] as string)}"`;
  }
  return `${key}}`;
}

/** One counter series with its label key built once: what a hot path increments. */
export interface CounterHandle {
  inc(amount?: number): void;
}

export interface Counter {
  inc(labels?: Labels, amount?: number): void;
  /** The series for these labels, to increment without building its key each time. */
  labels(labels: Labels): CounterHandle;
}

/** A series' current value, held by the family's map and by bound handles alike. */
interface Cell {
  value: number;
}

export interface Gauge {
  set(labels: Labels, value: number): void;
  remove(labels: Labels): void;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly values: Map<string, Cell>;
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
    const cell = (labels: Labels): Cell => {
      const key = labelKey(labels);
      let found = family.values.get(key);
      if (!found) {
        found = { value: 0 };
        family.values.set(key, found);
      }
      return found;
    };
    return {
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
  }

  gauge(name: string, help: string): Gauge {
    const family = this.#family(name, help, 'gauge');
    return {
      set: (labels, value) => {
        const key = labelKey(labels);
        const found = family.values.get(key);
        if (found) found.value = value;
        else family.values.set(key, { value });
      },
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
      for (const [key, cell] of family.values) lines.push(`${family.name}${key} ${cell.value}`);
      if (family.collect) for (const [labels, value] of family.collect()) lines.push(`${family.name}${labelKey(labels)} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

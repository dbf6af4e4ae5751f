/** Times one awaited call into a histogram, labelled with its outcome (ok or error). */
import { performance } from 'node:perf_hooks';
import type { Histogram } from './metrics-registry.js';

export async function timeCall<T>(histogram: Histogram, labels: Readonly<Record<string, string>>, call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const result = await call();
    histogram.observe({ ...labels, outcome: 'ok' }, (performance.now() - started) / 1000);
    return result;
  } catch (error) {
    histogram.observe({ ...labels, outcome: 'error' }, (performance.now() - started) / 1000);
    throw error;
  }
}

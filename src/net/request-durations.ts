/**
 * `sidekey_request_duration_seconds`: each HTTP front's time from a request's arrival to the end of
 * its answer, by front and status code. One histogram for all fronts, so they compare in one query.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Histogram, HistogramHandle, MetricsRegistry } from '../core/metrics/metrics-registry.js';
import { seriesBy } from '../core/metrics/series-by.js';

export const REQUEST_DURATION_METRIC = 'sidekey_request_duration_seconds';

export function requestDurations(metrics: MetricsRegistry): Histogram {
  return metrics.histogram(REQUEST_DURATION_METRIC, 'HTTP requests from arrival to the end of the answer, by front and status.', [
    'front',
    'status',
  ]);
}

/**
 * A front's series by status code, each bound on its first answer (a front answers a handful of
 * codes), so a request records into a handle with no label lookup.
 */
export function durationSeries(histogram: Histogram, front: string): (status: number) => HistogramHandle {
  return seriesBy((status: number) => histogram.labels({ front, status: String(status) }));
}

/** Wraps a request listener so each answer is timed under `front`. */
export function timedRequests<Rest extends unknown[]>(
  histogram: Histogram,
  front: string,
  handler: (req: IncomingMessage, res: ServerResponse, ...rest: Rest) => void,
): (req: IncomingMessage, res: ServerResponse, ...rest: Rest) => void {
  const seriesOf = durationSeries(histogram, front);
  return (req, res, ...rest) => {
    const started = performance.now();
    const observe = () => seriesOf(res.statusCode).observe((performance.now() - started) / 1000);
    handler(req, res, ...rest);
    // Most answers (cached credentials, a refusal) are ended before the handler returns: timed now,
    // without a listener per request; the others when their answer ends.
    if (res.writableEnded) observe();
    else res.once('finish', observe);
  };
}

import assert from 'node:assert/strict';
import test from 'node:test';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';

const BUCKETS = [0.001, 0.01, 0.1];

/** The value of one exposition line, by its exact series name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('histogram: a value on a bound counts in that bucket, buckets are cumulative, +Inf holds all, with _sum and _count; NaN is not recorded', async () => {
  const registry = new MetricsRegistry();
  const histogram = registry.histogram('sk_test_seconds', 'test durations', ['front', 'status'], BUCKETS);
  histogram.observe({ front: 'a', status: '200' }, 0.001);
  histogram.observe({ status: '200', front: 'a' }, 0.005);
  const bound = histogram.labels({ front: 'a', status: '200' });
  bound.observe(0.0001);
  bound.observe(7);
  histogram.labels({ front: 'b', status: '404' }).observe(0.05);
  bound.observe(Number.NaN);
  const text = await registry.render();
  assert.match(text, /^# TYPE sk_test_seconds histogram$/m);
  const a = 'front="a",status="200"';
  assert.equal(sample(text, `sk_test_seconds_bucket{le="0.001",${a}}`), 2);
  assert.equal(sample(text, `sk_test_seconds_bucket{le="0.01",${a}}`), 3);
  assert.equal(sample(text, `sk_test_seconds_bucket{le="0.1",${a}}`), 3);
  assert.equal(sample(text, `sk_test_seconds_bucket{le="+Inf",${a}}`), 4);
  assert.equal(sample(text, `sk_test_seconds_count{${a}}`), 4);
  assert.ok(Math.abs((sample(text, `sk_test_seconds_sum{${a}}`) as number) - 7.0061) < 1e-9);
  const b = 'front="b",status="404"';
  assert.equal(sample(text, `sk_test_seconds_bucket{le="0.01",${b}}`), 0);
  assert.equal(sample(text, `sk_test_seconds_bucket{le="0.1",${b}}`), 1);
  assert.equal(sample(text, `sk_test_seconds_count{${b}}`), 1);
  // Labels given in another order are the same series: one set of lines per series.
  assert.equal(text.split('\n').filter((l) => l.startsWith(`sk_test_seconds_count{`)).length, 2);
});

test('histogram: the same name gives the same family; bad names and labels are refused when the series is made', () => {
  const registry = new MetricsRegistry();
  const histogram = registry.histogram('sk_test_seconds', 'test durations', ['front'], BUCKETS);
  assert.equal(registry.histogram('sk_test_seconds', 'again', ['front']), histogram);
  assert.throws(() => histogram.observe({ front: 'a', other: 'x' }, 1), /sk_test_seconds has no label other/);
  assert.throws(() => histogram.labels({ nope: 'x' }), /has no label nope/);
  assert.throws(() => registry.histogram('sk_bucketed_seconds', 'le as a label', ['le']), /le is the bucket label/);
  assert.throws(() => registry.histogram('sk-bad-name', 'bad', []), /invalid metric name/);
});

test('counter: a bound handle and inc with labels add to one series', async () => {
  const registry = new MetricsRegistry();
  const counter = registry.counter('sk_test_total', 'test counts', ['outcome']);
  const ok = counter.labels({ outcome: 'ok' });
  ok.inc();
  ok.inc(2);
  counter.inc({ outcome: 'ok' });
  counter.inc({ outcome: 'error' });
  const text = await registry.render();
  assert.equal(sample(text, 'sk_test_total{outcome="ok"}'), 4);
  assert.equal(sample(text, 'sk_test_total{outcome="error"}'), 1);
});

test('callback gauge: read at scrape time; registered again (a front started again), it reads the new callback', async () => {
  const registry = new MetricsRegistry();
  let first = 3;
  registry.gaugeCallback('sidekey_test_waiting', 'Things waiting.', [], () => [[{}, first]]);
  assert.match(await registry.render(), /^sidekey_test_waiting 3$/m);
  first = 4;
  assert.match(await registry.render(), /^sidekey_test_waiting 4$/m);
  registry.gaugeCallback('sidekey_test_waiting', 'Things waiting.', [], () => [[{}, 9]]);
  assert.match(await registry.render(), /^sidekey_test_waiting 9$/m);
});

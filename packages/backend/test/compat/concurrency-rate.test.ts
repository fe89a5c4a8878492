// Compatibility: CONCURRENCY and the RATE_* calculations as Honeycomb documents them.
// - CONCURRENCY (docs "Visualize Concurrency"): "uses each span's duration to compute the fraction of each time
//   interval covered by spans, extending right along the time axis"; the y-axis is the number of spans running.
// - RATE_SUM / RATE_AVG / RATE_MAX (docs "Visualize Rate"): "the difference between subsequent field values after
//   applying the SUM / AVG / MAX operator", the tool for counters such as system.network.dropped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/index.js';
import { freshBackend, postJson, runQuery } from '../helpers.js';

const NOW = Math.floor(Date.now() / 1000);
const START = NOW - (NOW % 600) - 1200; // whole 10-minute boundary, 20 to 30 minutes ago
const END = START + 600;

describe('CONCURRENCY', () => {
  let backend: Backend;
  // [start offset s, duration s, sample rate]
  const spans: [number, number, number][] = [
    [20, 60, 1], // the documented case: a 60 s span in 10 s buckets is one span in progress in each of six buckets
    [105, 15, 1], // half of one bucket, all of the next
    [300, 10, 3], // weighted by its sample rate
  ];
  beforeAll(async () => {
    backend = await freshBackend();
    const batch = spans.map(([at, dur, rate]) => ({ data: { duration_ms: dur * 1000, name: 'work' }, time: new Date((START + at) * 1000).toISOString(), samplerate: rate }));
    // A span that started before the window and ends 10 s into it.
    batch.push({ data: { duration_ms: 40_000, name: 'early' }, time: new Date((START - 30) * 1000).toISOString(), samplerate: 1 });
    expect((await postJson(`${backend.url}/1/batch/conc`, batch)).status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  /** The expected value per 10 s bucket: the fraction of it each span covers, weighted. */
  function expectedBuckets(include: (name: string) => boolean): Map<number, number> {
    const all: [number, number, number, string][] = [...spans.map(([a, d, r]) => [a, d, r, 'work'] as [number, number, number, string]), [-30, 40, 1, 'early']];
    const out = new Map<number, number>();
    for (const [at, dur, rate, name] of all) {
      if (!include(name)) continue;
      for (let b = 0; b < 60; b++) {
        const overlap = Math.max(0, Math.min(at + dur, (b + 1) * 10) - Math.max(at, b * 10));
        if (overlap > 0) out.set(b, (out.get(b) ?? 0) + (rate * overlap) / 10);
      }
    }
    return out;
  }

  it('spreads each span over every bucket it spans', async () => {
    const data = await runQuery(backend.url, 'conc', { start_time: START, end_time: END, granularity: 10, calculations: [{ op: 'CONCURRENCY' }, { op: 'COUNT' }] });
    const got = new Map(data.series.map((s) => [(Date.parse(s.time) / 1000 - START) / 10, s.data.CONCURRENCY]));
    const want = expectedBuckets(() => true);
    expect([...got.keys()].toSorted((a, b) => a - b)).toEqual([...want.keys()].toSorted((a, b) => a - b));
    for (const [b, v] of want) expect(got.get(b), `bucket ${b}`).toBeCloseTo(v, 9);
    // The 60 s span alone: 1 in each of its six buckets (20-80 s is buckets 2..7).
    expect([2, 3, 4, 5, 6, 7].map((b) => got.get(b))).toEqual([1, 1, 1, 1, 1, 1]);
    // The totals value is the average number of spans in progress over the window.
    const busy = spans.reduce((a, [, d, r]) => a + d * r, 0) + 10;
    expect(data.results[0]!.data.CONCURRENCY).toBeCloseTo(busy / 600, 9);
    // Buckets the spans cover without any span starting in them still have a COUNT of 0.
    expect(data.series.find((s) => (Date.parse(s.time) / 1000 - START) / 10 === 4)!.data.COUNT).toBe(0);
  });

  it('per breakdown group', async () => {
    const data = await runQuery(backend.url, 'conc', { start_time: START, end_time: END, granularity: 10, breakdowns: ['name'], calculations: [{ op: 'CONCURRENCY' }] });
    const early = data.series.filter((s) => s.data.name === 'early').map((s) => [(Date.parse(s.time) / 1000 - START) / 10, s.data.CONCURRENCY]);
    expect(early).toEqual([[0, 1]]);
  });
});

/** Two hosts report a packets-dropped counter every 60 s; host b's counter resets after minute 6. */
const counter = (host: 'a' | 'b', m: number) => (host === 'a' ? 1000 + m * m * 10 : m <= 6 ? 500 + m * 7 : (m - 6) * 3);
const diffs = (xs: number[]) => [null, ...xs.slice(1).map((x, i) => x - xs[i]!)];

describe('RATE_SUM, RATE_AVG, RATE_MAX', () => {
  let backend: Backend;
  const minutes = 10;
  beforeAll(async () => {
    backend = await freshBackend();
    const batch = [];
    for (let m = 0; m < minutes; m++) {
      for (const host of ['a', 'b'] as const) {
        batch.push({ data: { 'host.name': host, 'system.network.dropped': counter(host, m) }, time: new Date((START + m * 60 + 5) * 1000).toISOString() });
      }
    }
    expect((await postJson(`${backend.url}/1/batch/metrics`, batch)).status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  const perMinute = (agg: (a: number, b: number) => number) => Array.from({ length: minutes }, (_, m) => agg(counter('a', m), counter('b', m)));
  for (const [op, agg] of [
    ['RATE_SUM', (a: number, b: number) => a + b],
    ['RATE_AVG', (a: number, b: number) => (a + b) / 2],
    ['RATE_MAX', (a: number, b: number) => Math.max(a, b)],
  ] as const) {
    it(`${op} is the difference between subsequent buckets' ${op.slice(5)}`, async () => {
      const data = await runQuery(backend.url, 'metrics', { start_time: START, end_time: END, granularity: 60, calculations: [{ op, column: 'system.network.dropped' }] });
      const name = `${op}(system.network.dropped)`;
      const want = diffs(perMinute(agg));
      expect(data.series.map((s) => s.data[name])).toEqual(want);
      // The total is the change over the window: the sum of the differences.
      expect(data.results[0]!.data[name]).toBe(want.slice(1).reduce((a, d) => a! + d!, 0));
    });
  }

  it('per group, a bucket after a missing one has no rate', async () => {
    await postJson(`${backend.url}/1/batch/gappy`, [0, 1, 3, 4].map((m) => ({ data: { c: m * 100 }, time: new Date((START + m * 60 + 5) * 1000).toISOString() })));
    const data = await runQuery(backend.url, 'gappy', { start_time: START, end_time: END, granularity: 60, calculations: [{ op: 'RATE_SUM', column: 'c' }] });
    expect(data.series.map((s) => s.data['RATE_SUM(c)'])).toEqual([null, 100, null, 100]);
    expect(data.results[0]!.data['RATE_SUM(c)']).toBe(200);
  });
});

import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, HeatmapValue, QueryFilter } from '../src/index.js';
import { byKey, freshBackend, postJson, runQuery, tempDir, weightedPercentile } from './helpers.js';

interface Row {
  route: string;
  status: number;
  ok: boolean;
  region?: string;
  duration_ms: number;
  rate: number;
  time: number;
  trace: string;
}

const NOW = Math.floor(Date.now() / 1000);
// Whole minutes, so series buckets line up with the data.
const END = NOW - (NOW % 60) + 60;
const START = END - 3600;

function makeRows(): Row[] {
  const routes = ['/a', '/b', '/api/c', '/api/d'];
  return Array.from({ length: 240 }, (_, i) => {
    const row: Row = {
      route: routes[i % 4]!,
      status: [200, 201, 404, 500][i % 7 % 4]!,
      ok: i % 5 !== 0,
      duration_ms: ((i * 37) % 101) + (i % 10 === 0 ? 2000 : 0),
      rate: i % 3 === 0 ? 2 : 1,
      time: (START + 30 + i * 14) * 1000,
      trace: `t${i}`,
    };
    if (i % 10 === 0) row.region = 'eu-slow';
    else if (i % 4 !== 3) row.region = 'us';
    return row;
  });
}

describe('query API', () => {
  let backend: Backend;
  const rows = makeRows();
  const q = (spec: Record<string, unknown>) => runQuery(backend.url, 'q', { start_time: START, end_time: END, ...spec });

  beforeAll(async () => {
    backend = await freshBackend();
    const batch = rows.map((r) => {
      const data: Record<string, unknown> = { route: r.route, status: r.status, ok: r.ok, duration_ms: r.duration_ms, 'trace.trace_id': r.trace };
      if (r.region) data.region = r.region;
      return { data, time: new Date(r.time).toISOString(), samplerate: r.rate };
    });
    const res = await postJson(`${backend.url}/1/batch/q`, batch);
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  const weight = (pred: (r: Row) => boolean) => rows.filter(pred).reduce((a, r) => a + r.rate, 0);

  it('every filter op selects exactly the events it names (weighted COUNT)', async () => {
    const cases: [QueryFilter, (r: Row) => boolean][] = [
      [{ column: 'route', op: '=', value: '/a' }, (r) => r.route === '/a'],
      [{ column: 'route', op: '!=', value: '/a' }, (r) => r.route !== '/a'],
      [{ column: 'status', op: '>', value: 201 }, (r) => r.status > 201],
      [{ column: 'status', op: '>=', value: 201 }, (r) => r.status >= 201],
      [{ column: 'status', op: '<', value: 404 }, (r) => r.status < 404],
      [{ column: 'status', op: '<=', value: 404 }, (r) => r.status <= 404],
      [{ column: 'route', op: 'starts-with', value: '/api' }, (r) => r.route.startsWith('/api')],
      [{ column: 'route', op: 'does-not-start-with', value: '/api' }, (r) => !r.route.startsWith('/api')],
      [{ column: 'route', op: 'ends-with', value: 'c' }, (r) => r.route.endsWith('c')],
      [{ column: 'route', op: 'does-not-end-with', value: 'c' }, (r) => !r.route.endsWith('c')],
      [{ column: 'region', op: 'exists' }, (r) => r.region !== undefined],
      [{ column: 'region', op: 'does-not-exist' }, (r) => r.region === undefined],
      [{ column: 'region', op: 'contains', value: 'slow' }, (r) => r.region?.includes('slow') === true],
      [{ column: 'region', op: 'does-not-contain', value: 'slow' }, (r) => r.region?.includes('slow') !== true],
      [{ column: 'status', op: 'in', value: [200, 500] }, (r) => [200, 500].includes(r.status)],
      [{ column: 'status', op: 'not-in', value: [200, 500] }, (r) => ![200, 500].includes(r.status)],
      [{ column: 'ok', op: '=', value: false }, (r) => !r.ok],
      [{ column: 'status', op: 'contains', value: '0' }, (r) => String(r.status).includes('0')],
    ];
    for (const [filter, pred] of cases) {
      const data = await q({ calculations: [{ op: 'COUNT' }], filters: [filter] });
      const expected = weight(pred);
      expect(data.results[0]?.data.COUNT ?? 0, JSON.stringify(filter)).toBe(expected);
    }
  });

  it('filter_combination OR matches events passing any filter', async () => {
    const data = await q({
      calculations: [{ op: 'COUNT' }],
      filter_combination: 'OR',
      filters: [
        { column: 'route', op: '=', value: '/a' },
        { column: 'status', op: '=', value: 500 },
      ],
    });
    expect(data.results[0]!.data.COUNT).toBe(weight((r) => r.route === '/a' || r.status === 500));
  });

  it('percentiles with equal sample rates match the unweighted definition', async () => {
    const data = await q({
      calculations: [{ op: 'P25', column: 'duration_ms' }, { op: 'P90', column: 'duration_ms' }, { op: 'MIN', column: 'duration_ms' }],
      filters: [{ column: 'status', op: '=', value: 201 }],
      breakdowns: ['route'],
    });
    for (const [route, r] of byKey(data.results, 'route')) {
      const mine = rows.filter((x) => x.route === route && x.status === 201);
      // status 201 rows all have the same rate within a route? Check and compute the reference either way.
      const d = mine.map((x) => x.duration_ms);
      const w = mine.map((x) => x.rate);
      expect(r['P25(duration_ms)']).toBe(weightedPercentile(d, w, 0.25));
      expect(r['P90(duration_ms)']).toBe(weightedPercentile(d, w, 0.9));
      expect(r['MIN(duration_ms)']).toBe(Math.min(...d));
    }
  });

  it('a dataset without sampled events gets plain counts, sums, averages and percentiles', async () => {
    const values = Array.from({ length: 101 }, (_, i) => (i * 37) % 101);
    await postJson(`${backend.url}/1/batch/plain`, values.map((v) => ({ data: { v, g: v % 2 ? 'odd' : 'even' } })));
    const data = await runQuery(backend.url, 'plain', {
      time_range: 600,
      breakdowns: ['g'],
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'v' }, { op: 'AVG', column: 'v' }, { op: 'P50', column: 'v' }],
    });
    for (const [g, r] of byKey(data.results, 'g')) {
      const mine = values.filter((v) => (v % 2 ? 'odd' : 'even') === g);
      const sum = mine.reduce((a, b) => a + b, 0);
      expect(r).toEqual({
        g,
        COUNT: mine.length,
        'SUM(v)': sum,
        'AVG(v)': sum / mine.length,
        'P50(v)': weightedPercentile(mine, mine.map(() => 1), 0.5),
      });
    }
  });

  it('orders, havings and limit shape the results', async () => {
    const data = await q({
      calculations: [{ op: 'COUNT' }],
      breakdowns: ['route'],
      orders: [{ column: 'route', order: 'ascending' }],
      havings: [{ calculate_op: 'COUNT', op: '>', value: weight((r) => r.route === '/b') }],
      limit: 2,
    });
    const counts = new Map(['/a', '/b', '/api/c', '/api/d'].map((rt) => [rt, weight((r) => r.route === rt)]));
    const expected = [...counts]
      .filter(([, c]) => c > counts.get('/b')!)
      .toSorted(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, 2)
      .map(([route, COUNT]) => ({ data: { route, COUNT } }));
    expect(data.results).toEqual(expected);
  });

  it('a granularity series splits counts into time buckets that add up to the total', async () => {
    const data = await q({ calculations: [{ op: 'COUNT' }], granularity: 600 });
    const total = data.results[0]!.data.COUNT as number;
    expect(total).toBe(weight(() => true));
    expect(data.series.length).toBe(6);
    expect(data.series.reduce((a, s) => a + (s.data.COUNT as number), 0)).toBe(total);
    for (const [i, s] of data.series.entries()) {
      const from = (START + i * 600) * 1000;
      expect(Date.parse(s.time)).toBe(from);
      expect(s.data.COUNT).toBe(weight((r) => r.time >= from && r.time < from + 600_000));
    }
  });

  it('HEATMAP buckets cover [min, max] and their counts add up to the weighted count', async () => {
    const data = await q({ calculations: [{ op: 'HEATMAP', column: 'duration_ms' }, { op: 'COUNT' }], disable_series: true } as never);
    const h = data.results[0]!.data['HEATMAP(duration_ms)'] as HeatmapValue;
    expect(h.min).toBe(Math.min(...rows.map((r) => r.duration_ms)));
    expect(h.max).toBe(Math.max(...rows.map((r) => r.duration_ms)));
    expect(h.buckets.reduce((a, b) => a + b.count, 0)).toBe(weight(() => true));
    for (const b of h.buckets) {
      const inBucket = weight((r) => r.duration_ms >= b.lower && (r.duration_ms < b.upper || (b.upper === h.max && r.duration_ms === h.max)));
      expect(b.count).toBe(inBucket);
    }
  });

  it('CONCURRENCY is the weighted busy time divided by the window', async () => {
    const data = await q({ calculations: [{ op: 'CONCURRENCY' }] });
    const busy = rows.reduce((a, r) => a + r.duration_ms * r.rate, 0);
    expect(data.results[0]!.data.CONCURRENCY).toBeCloseTo(busy / 3_600_000, 9);
  });

  it("RATE_MAX is the difference of each bucket's MAX from the previous bucket's; the total is the change over the window", async () => {
    // A counter that grows by 120 per 60-second bucket.
    const events = Array.from({ length: 10 }, (_, i) => ({ data: { counter: 1000 + i * 120 }, time: new Date((START + 5 + i * 60) * 1000).toISOString() }));
    await postJson(`${backend.url}/1/batch/rates`, events);
    const data = await runQuery(backend.url, 'rates', { start_time: START, end_time: END, calculations: [{ op: 'RATE_MAX', column: 'counter' }], granularity: 60 });
    expect(data.results[0]!.data['RATE_MAX(counter)']).toBe(9 * 120);
    const rates = data.series.map((s) => s.data['RATE_MAX(counter)']);
    expect(rates).toEqual([null, ...Array(9).fill(120)]);
  });

  it('/1/events takes one event with X-Honeycomb-Event-Time and X-Honeycomb-Samplerate', async () => {
    const t = (START + 120) * 1000 + 0.25;
    const res = await fetch(`${backend.url}/1/events/single`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-honeycomb-event-time': new Date(Math.floor(t)).toISOString().replace('Z', '250Z'),
        'x-honeycomb-samplerate': '7',
      },
      body: JSON.stringify({ route: '/one', duration_ms: 3 }),
    });
    expect(res.status).toBe(200);
    const data = await runQuery(backend.url, 'single', { start_time: START, end_time: END, granularity: 60, calculations: [{ op: 'COUNT' }] });
    expect(data.results[0]!.data.COUNT).toBe(7);
    expect(data.series).toEqual([{ time: new Date((START + 120) * 1000).toISOString(), data: { COUNT: 7 } }]);
    const bad = await fetch(`${backend.url}/1/events/single`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-honeycomb-event-time': 'noonish' },
      body: '{}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/X-Honeycomb-Event-Time/);
  });

  it('a key seen with a second type becomes a string column and its values stay queryable', async () => {
    await postJson(`${backend.url}/1/batch/types`, [{ data: { code: 7 } }, { data: { code: 7.5 } }]);
    await postJson(`${backend.url}/1/batch/types`, [{ data: { code: 'E42' } }, { data: { code: 8 } }]);
    const cols = (await (await fetch(`${backend.url}/1/columns/types`)).json()) as { key_name: string; type: string }[];
    expect(cols.find((c) => c.key_name === 'code')?.type).toBe('string');
    const data = await runQuery(backend.url, 'types', { time_range: 600, calculations: [{ op: 'COUNT' }], breakdowns: ['code'], orders: [{ column: 'code', order: 'ascending' }] });
    expect(data.results.map((r) => r.data.code)).toEqual(['7', '7.5', '8', 'E42']);
  });

  it('BubbleUp ranks the column that explains the selection first and gives example traces', async () => {
    const res = await postJson(`${backend.url}/api/bubbleup/q`, {
      start_time: START,
      end_time: END,
      selection: { filters: [{ column: 'duration_ms', op: '>=', value: 2000 }] },
    });
    expect(res.status).toBe(200);
    const body = res.body as import('../src/index.js').BubbleUpResult;
    expect(body.selection.count).toBe(weight((r) => r.duration_ms >= 2000));
    expect(body.baseline.count).toBe(weight((r) => r.duration_ms < 2000));
    const names = body.columns.map((c) => c.column);
    expect(names[0]).toBe('region');
    // The column that defines the selection differs by construction, so it is not ranked.
    expect(names).not.toContain('duration_ms');
    const region = body.columns.find((c) => c.column === 'region')!;
    expect(region.score).toBeCloseTo(1, 9);
    expect(region.values!.find((v) => v.value === 'eu-slow')).toEqual({ value: 'eu-slow', selection: 1, baseline: 0 });
    expect(names).not.toContain('trace.trace_id');
    expect(body.example_trace_ids.length).toBeGreaterThan(0);
    for (const id of body.example_trace_ids) expect(Number(id.slice(1)) % 10).toBe(0);
  });

  // 40 selected (slow) events, all on version v2 with a 500 MB heap; of 60 baseline events, `v2Base` are on v2
  // and `bigHeapBase` have the large heap. Scores: version 1 - v2Base/60, heap_mb 1 - bigHeapBase/60.
  const bubbleRanking = async (dataset: string, v2Base: number, bigHeapBase: number) => {
    const events = Array.from({ length: 100 }, (_, i) => {
      const selected = i < 40;
      const b = i - 40;
      const data = { duration_ms: selected ? 900 : 10, version: selected || b < v2Base ? 'v2' : 'v1', heap_mb: selected || b < bigHeapBase ? 500 : 100 };
      return { data, time: new Date((START + 60 + i) * 1000).toISOString() };
    });
    expect((await postJson(`${backend.url}/1/batch/${dataset}`, events)).status).toBe(200);
    const res = await postJson(`${backend.url}/api/bubbleup/${dataset}`, {
      start_time: START,
      end_time: END,
      selection: { filters: [{ column: 'duration_ms', op: '>=', value: 100 }] },
    });
    const body = res.body as import('../src/index.js').BubbleUpResult;
    return body.columns.map((c) => `${c.column} ${c.score.toFixed(3)}`);
  };

  it('BubbleUp ranks a categorical column above a numeric one that scores higher by less than one selected event', async () => {
    // heap_mb 0.917 vs version 0.900: closer than 1/40 = 0.025, so the version leads.
    expect(await bubbleRanking('tie', 6, 5)).toEqual(['version 0.900', 'heap_mb 0.917']);
    // heap_mb 1.000 vs version 0.900: a real difference, so the gauge leads.
    expect(await bubbleRanking('clear', 6, 0)).toEqual(['heap_mb 1.000', 'version 0.900']);
  });

  it('BubbleUp accepts a heatmap box (time range + duration range) and rejects an empty selection', async () => {
    const box = await postJson(`${backend.url}/api/bubbleup/q`, {
      start_time: START,
      end_time: END,
      selection: {
        start_time: START,
        end_time: START + 1800,
        filters: [
          { column: 'duration_ms', op: '>=', value: 50 },
          { column: 'duration_ms', op: '<', value: 100 },
        ],
      },
    });
    expect(box.status).toBe(200);
    expect(box.body.selection.count).toBe(weight((r) => r.time < (START + 1800) * 1000 && r.duration_ms >= 50 && r.duration_ms < 100));
    const empty = await postJson(`${backend.url}/api/bubbleup/q`, { selection: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatch(/^selection: must have at least one filter/);
  });

  it('datasets and columns are listed in Honeycomb shapes', async () => {
    const datasets = (await (await fetch(`${backend.url}/1/datasets`)).json()) as { slug: string; last_written_at: string }[];
    expect(datasets.map((d) => d.slug)).toContain('q');
    const cols = (await (await fetch(`${backend.url}/1/columns/q`)).json()) as { key_name: string; type: string }[];
    expect(Object.fromEntries(cols.map((c) => [c.key_name, c.type]))).toMatchObject({
      route: 'string',
      status: 'float',
      ok: 'boolean',
      duration_ms: 'float',
    });
    expect((await fetch(`${backend.url}/1/columns/nope`)).status).toBe(404);
  });

  it('markers are created and listed in Honeycomb shape', async () => {
    const created = await postJson(`${backend.url}/1/markers/q`, { message: 'deploy 42', type: 'deploy', url: 'http://x/1', start_time: START + 60 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ message: 'deploy 42', type: 'deploy', url: 'http://x/1', start_time: START + 60 });
    await postJson(`${backend.url}/1/markers/__all__`, { message: 'env-wide' });
    const bad = await postJson(`${backend.url}/1/markers/q`, { start_time: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^start_time: must be epoch seconds/);
    const list = (await (await fetch(`${backend.url}/1/markers/q`)).json()) as { message: string; id: string }[];
    expect(list.map((m) => m.message).toSorted()).toEqual(['deploy 42', 'env-wide']);
    expect(list.every((m) => typeof m.id === 'string')).toBe(true);
  });
});

describe('keys and retention', () => {
  it('with keys configured, requests without a known X-Honeycomb-Team get 401 and /1/auth answers like Honeycomb', async () => {
    const backend = await freshBackend({ keys: ['secret'] });
    try {
      expect((await postJson(`${backend.url}/1/batch/k`, [{ data: { a: 1 } }])).status).toBe(401);
      expect((await postJson(`${backend.url}/1/batch/k`, [{ data: { a: 1 } }], { 'x-honeycomb-team': 'wrong' })).status).toBe(401);
      expect((await postJson(`${backend.url}/1/batch/k`, [{ data: { a: 1 } }], { 'x-honeycomb-team': 'secret' })).status).toBe(200);
      const otlp = await fetch(`${backend.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(otlp.status).toBe(401);
      const auth = await fetch(`${backend.url}/1/auth`, { headers: { 'x-honeycomb-team': 'secret' } });
      expect(auth.status).toBe(200);
      expect(await auth.json()).toMatchObject({ team: { slug: 'local' }, environment: { slug: 'local' } });
    } finally {
      await backend.close();
    }
  });

  it('without keys, any or no key is accepted', async () => {
    const backend = await freshBackend();
    try {
      expect((await postJson(`${backend.url}/1/batch/k`, [{ data: { a: 1 } }], { 'x-honeycomb-team': 'anything' })).status).toBe(200);
      expect((await fetch(`${backend.url}/1/auth`)).status).toBe(200);
    } finally {
      await backend.close();
    }
  });

  it('events older than maxAgeHours are deleted by retention', async () => {
    const dataDir = tempDir();
    const first = await freshBackend({ dataDir, retention: { maxAgeHours: 0 } });
    const old = new Date(Date.now() - 3 * 3_600_000).toISOString();
    await postJson(`${first.url}/1/batch/ret`, [{ data: { a: 1 }, time: old }, { data: { a: 2 } }]);
    expect((await runQuery(first.url, 'ret', { time_range: 86400, calculations: [{ op: 'COUNT' }] })).results[0]!.data.COUNT).toBe(2);
    await first.close();
    const second = await freshBackend({ dataDir, retention: { maxAgeHours: 1, intervalSeconds: 1 } });
    try {
      let count = 2;
      for (let i = 0; i < 50 && count !== 1; i++) {
        await new Promise((r) => setTimeout(r, 100));
        count = (await runQuery(second.url, 'ret', { time_range: 86400, calculations: [{ op: 'COUNT' }] })).results[0]!.data.COUNT as number;
      }
      expect(count).toBe(1);
    } finally {
      await second.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { freshBackend, postJson, runQuery, weightedPercentile } from './helpers.js';

const NOW = Math.floor(Date.now() / 1000);
const START = NOW - 1800;
const TAILS = ['P001', 'P01', 'P05', 'P10', 'P90', 'P95', 'P99', 'P999'] as const;
const Q: Record<(typeof TAILS)[number], number> = { P001: 0.001, P01: 0.01, P05: 0.05, P10: 0.1, P90: 0.9, P95: 0.95, P99: 0.99, P999: 0.999 };

interface Ev {
  route?: string;
  ms: number | null;
}

/**
 * `nulls` events without a route (the group a top-N pass computes) and `perRoute` with each of three routes;
 * durations with ties (whole milliseconds) and a few events without a duration.
 */
function makeEvents(nulls: number, perRoute: number, seed: number): Ev[] {
  let a = seed;
  const r = () => ((a = (a * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out: Ev[] = [];
  for (let i = 0; i < nulls; i++) out.push({ ms: Math.floor(r() * 500) });
  for (const route of ['/a', '/b', '/c']) for (let i = 0; i < perRoute; i++) out.push({ route, ms: Math.floor(r() * 2000) });
  out.push({ ms: null }, { route: '/a', ms: null });
  return out;
}

describe('tail percentiles (P90 and above, P10 and below)', () => {
  let backend: Backend;
  // 1000 route-less events: n × q is a whole number for every tail (the index rounding edge); 1237: it never is.
  const datasets = { even: makeEvents(1000, 300, 7), odd: makeEvents(1237, 211, 11) };

  beforeAll(async () => {
    backend = await freshBackend();
    for (const [name, events] of Object.entries(datasets)) {
      const batch = events.map((e, i) => {
        const data: Record<string, unknown> = { n: i };
        if (e.route) data.route = e.route;
        if (e.ms !== null) data.duration_ms = e.ms;
        return { data, time: new Date((START + i * 0.5) * 1000).toISOString() };
      });
      expect((await postJson(`${backend.url}/1/batch/${name}`, batch)).status).toBe(200);
    }
  });
  afterAll(async () => {
    await backend.close();
  });

  const expected = (events: Ev[], op: (typeof TAILS)[number]): number | null => {
    const values = events.map((e) => e.ms).filter((v): v is number => v !== null);
    return values.length === 0 ? null : weightedPercentile(values, values.map(() => 1), Q[op]);
  };

  for (const name of ['even', 'odd'] as const) {
    it(`are exact for the group without a breakdown value, the other groups and the whole scope (${name})`, async () => {
      const events = datasets[name];
      const calculations = TAILS.map((op) => ({ op, column: 'duration_ms' }));
      const grouped = await runQuery(backend.url, name, { time_range: 3600, breakdowns: ['route'], calculations }, {}, { disable_series: true });
      for (const route of [null, '/a', '/b', '/c']) {
        const row = grouped.results.find((r) => r.data.route === route)!;
        const mine = events.filter((e) => (e.route ?? null) === route);
        for (const op of TAILS) expect(row.data[`${op}(duration_ms)`], `${String(route)} ${op}`).toBe(expected(mine, op));
      }
      const whole = await runQuery(backend.url, name, { time_range: 3600, calculations }, {}, { disable_series: true });
      for (const op of TAILS) expect(whole.results[0]!.data[`${op}(duration_ms)`], op).toBe(expected(events, op));
      // A filter applies to the top-N pass as to the main query.
      const filtered = await runQuery(
        backend.url,
        name,
        { time_range: 3600, breakdowns: ['route'], calculations, filters: [{ column: 'duration_ms', op: '<', value: 250 }] },
        {},
        { disable_series: true },
      );
      const low = events.filter((e) => e.route === undefined && e.ms !== null && e.ms < 250);
      const nullRow = filtered.results.find((r) => r.data.route === null)!;
      for (const op of TAILS) expect(nullRow.data[`${op}(duration_ms)`], `filtered ${op}`).toBe(expected(low, op));
    });
  }

  it('are null for a group whose events have no value', async () => {
    const batch = [
      { data: { route: '/x', duration_ms: 5 }, time: new Date(START * 1000).toISOString() },
      { data: { other: 1 }, time: new Date(START * 1000).toISOString() },
    ];
    expect((await postJson(`${backend.url}/1/batch/sparse`, batch)).status).toBe(200);
    const data = await runQuery(backend.url, 'sparse', { time_range: 3600, breakdowns: ['route'], calculations: [{ op: 'P99', column: 'duration_ms' }] }, {}, { disable_series: true });
    expect(data.results.find((r) => r.data.route === null)!.data['P99(duration_ms)']).toBeNull();
    expect(data.results.find((r) => r.data.route === '/x')!.data['P99(duration_ms)']).toBe(5);
  });
});

// Compatibility: Honeycomb's Queries and Query Data APIs (/1/queries, /1/query_results) and the query specification's
// validation rules (docs.honeycomb.io/reference/query-specification, the OpenAPI description's Query and
// CreateQueryResultRequest). The backend README's "Validation rules" table lists each rule with its source.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/index.js';
import { freshBackend, postJson, tempDir } from '../helpers.js';

async function get(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

const NOW_S = Math.floor(Date.now() / 1000);

describe('Query Data API', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
    // 1,500 distinct users, one event each, over the last 20 minutes, in "Shop" (slug `shop`).
    const events = Array.from({ length: 1500 }, (_, i) => ({ data: { user: `u${i}`, ms: i }, time: new Date((NOW_S - 1200 + (i % 1200)) * 1000).toISOString() }));
    expect((await postJson(`${backend.url}/1/batch/Shop`, events)).status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  it('a query result is 201 with a Location, the query as it ran and absolute links built from the Host', async () => {
    const q = await postJson(`${backend.url}/1/queries/shop`, { calculations: [{ op: 'COUNT' }], time_range: 3600 });
    expect(q.status).toBe(200);
    expect(q.body).toEqual({ id: expect.any(String), calculations: [{ op: 'COUNT' }], time_range: 3600 });
    expect((await get(`${backend.url}/1/queries/shop/${q.body.id}`)).body).toEqual(q.body);

    const res = await fetch(`${backend.url}/1/query_results/shop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query_id: q.body.id }),
    });
    expect(res.status).toBe(201);
    const result = (await res.json()) as any;
    expect(res.headers.get('location')).toBe(`${backend.url}/1/query_results/shop/${result.id}`);
    expect(result).toMatchObject({ query_id: q.body.id, complete: true, data: { results: [{ data: { COUNT: 1500 } }] } });
    expect(result.query).toMatchObject({ calculations: [{ op: 'COUNT' }], limit: 1000 });
    expect(result.query.end_time - result.query.start_time).toBe(3600);
    expect(result.query).not.toHaveProperty('time_range');
    // The link opens the UI on the same query over the same window.
    const link = new URL(result.links.query_url);
    expect(link.origin).toBe(backend.url);
    const [route, search] = link.hash.split('?') as [string, string];
    expect(route).toBe('#/query');
    const params = new URLSearchParams(search);
    expect(params.get('dataset')).toBe('shop');
    expect(JSON.parse(params.get('spec')!)).toEqual({ calculations: [{ op: 'COUNT' }], start_time: result.query.start_time, end_time: result.query.end_time, limit: 1000 });

    const again = await get(res.headers.get('location')!);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(result);
  });

  it('links use the configured public URL', async () => {
    const behind = await freshBackend({ publicUrl: 'https://waggle.example.com/' });
    try {
      await postJson(`${behind.url}/1/batch/shop`, [{ data: { n: 1 } }]);
      const q = await postJson(`${behind.url}/1/queries/shop`, { time_range: 600 });
      const r = await postJson(`${behind.url}/1/query_results/shop`, { query_id: q.body.id });
      expect(r.body.links.query_url).toMatch(/^https:\/\/waggle\.example\.com\/#\/query\?dataset=shop&spec=/);
    } finally {
      await behind.close();
    }
    await expect(freshBackend({ publicUrl: 'ftp://x' })).rejects.toThrow(/^WAGGLE_BACKEND_CONFIG_INVALID: publicUrl must be an http\(s\) URL/);
  });

  it('a query returns at most its limit (≤ 1,000); a disable_series result may raise it to 10,000, otherwise the result limit is ignored', async () => {
    const spec = { breakdowns: ['user'], calculations: [{ op: 'COUNT' }], time_range: 3600 };
    const q = await postJson(`${backend.url}/1/queries/shop`, spec);
    const plain = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id });
    expect(plain.body.data.results).toHaveLength(1000);
    const ignored = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id, limit: 1500 });
    expect(ignored.body.data.results).toHaveLength(1000);
    const raised = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id, disable_series: true, limit: 1500 });
    expect(raised.status).toBe(201);
    expect(raised.body.data.results).toHaveLength(1500);
    expect(raised.body.data.series).toEqual([]);
    expect(raised.body.query.limit).toBe(1500);
    const small = await postJson(`${backend.url}/1/queries/shop`, { ...spec, limit: 10 });
    expect((await postJson(`${backend.url}/1/query_results/shop`, { query_id: small.body.id })).body.data.results).toHaveLength(10);
    const tooMany = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id, disable_series: true, limit: 10_001 });
    expect(tooMany).toEqual({ status: 400, body: { error: 'limit: must be an integer from 1 to 10000' } });
  });

  it('a relative time_range is "the last N seconds" each time the query runs', async () => {
    const q = await postJson(`${backend.url}/1/queries/shop`, { time_range: 600 });
    const first = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id });
    await new Promise((r) => setTimeout(r, 1100));
    const second = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id });
    expect(second.body.query.end_time).toBeGreaterThan(first.body.query.end_time);
  });

  // Each rule: a spec, and the 400 it gets (rules and sources: README "Validation rules").
  const refused: [string, Record<string, unknown>, string][] = [
    ['a limit above 1,000', { limit: 1001 }, 'limit: must be an integer from 1 to 1000'],
    ['time_range, start_time and end_time together', { time_range: 600, start_time: NOW_S - 600, end_time: NOW_S }, 'time_range: specify at most two of time_range, start_time and end_time'],
    ['a granularity below time range / 1000', { time_range: 604800, granularity: 1 }, 'granularity: must be at least time range / 1000 (605 s)'],
    ['a granularity above the time range', { time_range: 600, granularity: 601 }, 'granularity: must not exceed the time range'],
    ['HEATMAP in orders', { calculations: [{ op: 'HEATMAP', column: 'ms' }], orders: [{ op: 'HEATMAP', column: 'ms' }] }, 'orders[0].op: HEATMAP cannot be used in orders'],
    ['a value on exists', { filters: [{ column: 'user', op: 'exists', value: 'x' }] }, 'filters[0].value: exists does not take a value'],
    ['a column on COUNT', { calculations: [{ op: 'COUNT', column: 'ms' }] }, 'calculations[0].column: COUNT takes no column'],
    ['an order on a calculation the query lacks', { orders: [{ op: 'AVG', column: 'ms' }] }, 'orders[0]: AVG(ms) is not one of this query\'s calculations (COUNT)'],
    ['a having on a calculation the query lacks', { havings: [{ calculate_op: 'P99', column: 'ms', op: '>', value: 1 }] }, 'havings[0]: P99(ms) is not one of this query\'s calculations (COUNT)'],
    ['an order on a column that is not a breakdown', { orders: [{ column: 'user' }] }, 'orders[0].column: must name a breakdown column when no op is given'],
    ['start_time after end_time', { start_time: NOW_S, end_time: NOW_S - 60 }, 'end_time: must be after start_time'],
    ['compare_time_offset_seconds', { time_range: 600, compare_time_offset_seconds: 86400 }, 'compare_time_offset_seconds: is not supported by this backend (time comparison queries run on Honeycomb only)'],
  ];
  for (const [rule, spec, message] of refused) {
    it(`refuses ${rule}`, async () => {
      expect(await postJson(`${backend.url}/1/queries/shop`, spec)).toEqual({ status: 400, body: { error: message } });
    });
  }

  it('accepts granularity 0 (automatic) and the finest granularity a range allows', async () => {
    expect((await postJson(`${backend.url}/1/queries/shop`, { time_range: 604800, granularity: 0 })).status).toBe(200);
    expect((await postJson(`${backend.url}/1/queries/shop`, { time_range: 604800, granularity: 605 })).status).toBe(200);
  });

  it('refuses a query result over more than 7 days', async () => {
    const q = await postJson(`${backend.url}/1/queries/shop`, { time_range: 8 * 86400, granularity: 3600 });
    expect(q.status).toBe(200);
    const r = await postJson(`${backend.url}/1/query_results/shop`, { query_id: q.body.id });
    expect(r).toEqual({ status: 400, body: { error: 'time_range: a query result covers at most 7 days (604800 s); this query covers 691200 s' } });
  });
});

describe('saved queries and query results in the data directory', () => {
  it('survive a restart: the query reads back and runs again, the result reads back unchanged', async () => {
    const dataDir = tempDir();
    let queryId: string;
    let result: any;
    const first = await startBackend({ port: 0, dataDir });
    try {
      await postJson(`${first.url}/1/batch/Kept`, [{ data: { n: 2 } }, { data: { n: 5 } }]);
      const q = await postJson(`${first.url}/1/queries/kept`, { calculations: [{ op: 'SUM', column: 'n' }], time_range: 600 });
      queryId = q.body.id;
      result = (await postJson(`${first.url}/1/query_results/kept`, { query_id: queryId })).body;
      expect(result.data.results).toEqual([{ data: { 'SUM(n)': 7 } }]);
    } finally {
      await first.close();
    }
    const second = await startBackend({ port: 0, dataDir });
    try {
      expect((await get(`${second.url}/1/queries/kept/${queryId}`)).body).toEqual({ id: queryId, calculations: [{ op: 'SUM', column: 'n' }], time_range: 600 });
      const stored = await get(`${second.url}/1/query_results/KEPT/${result.id}`);
      expect(stored.status).toBe(200);
      // Links follow the Host the request came to; everything else is the stored result.
      expect({ ...stored.body, links: undefined }).toEqual({ ...result, links: undefined });
      expect(stored.body.links.query_url.startsWith(`${second.url}/#/query?`)).toBe(true);
      const rerun = await postJson(`${second.url}/1/query_results/kept`, { query_id: queryId });
      expect(rerun.status).toBe(201);
      expect(rerun.body.data.results).toEqual([{ data: { 'SUM(n)': 7 } }]);
    } finally {
      await second.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

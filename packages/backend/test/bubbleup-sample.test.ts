import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_SAMPLE_ROWS, type Backend, type BubbleUpResult } from '../src/index.js';
import { freshBackend, postJson } from './helpers.js';

const NOW = Math.floor(Date.now() / 1000);
const START = NOW - 3000;
const EVENTS = 24_000;
const SAMPLE = 4000;

/** A small deterministic PRNG (mulberry32), so the data and therefore both rankings are the same every run. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Request events of an API: 1 in 12 is slow (≥ 1000 ms). Five columns differ between slow and other events by planted
 * amounts (total variation distance): region 0.7, version 0.5, status 0.38, cache_hit 0.3, tier 0.2. The other columns
 * are noise, drawn alike for both: hosts, routes, user agents, 3,000 customers, a heap gauge, a database system that
 * only some events carry, and a request id on every event.
 */
function makeEvents(): { data: Record<string, unknown>; time: string }[] {
  const r = prng(23);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const regions = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-south-1'];
  return Array.from({ length: EVENTS }, (_, i) => {
    const slow = i % 12 === 0;
    const data: Record<string, unknown> = {
      duration_ms: slow ? 1000 + r() * 3000 : 5 + r() * 400,
      // 0.9 of slow events vs 0.2 of the others on ap-south-1: 0.7
      region: (slow ? r() < 0.875 : r() < 0) ? 'ap-south-1' : pick(regions),
      // 0.7 vs 0.2 on v2: 0.5
      version: r() < (slow ? 0.7 : 0.2) ? 'v2' : 'v1',
      // 0.4 vs 0.02 failed: 0.38
      status: r() < (slow ? 0.4 : 0.02) ? 500 : 200,
      // 0.15 vs 0.45 cache hits: 0.3
      cache_hit: r() < (slow ? 0.15 : 0.45),
      // 0.55 vs 0.35 on the free tier: 0.2
      tier: r() < (slow ? 0.55 : 0.35) ? 'free' : 'paid',
      host: `host-${Math.floor(r() * 20)}`,
      route: `/api/v1/resource${Math.floor(r() * 30)}`,
      user_agent: pick(['curl/8.5', 'Mozilla/5.0', 'okhttp/4.12', 'python-requests/2.31']),
      'customer.id': `cust-${Math.floor(r() * 3000)}`,
      heap_mb: 200 + r() * 300,
      request_id: `req-${i}`,
      'trace.trace_id': `t${i}`,
    };
    if (r() < 0.4) data['db.system'] = pick(['postgresql', 'redis']);
    return { data, time: new Date((START + i * 0.1) * 1000).toISOString() };
  });
}

const PLANTED = ['region', 'version', 'status', 'cache_hit', 'tier'];
const top5 = (b: BubbleUpResult) => b.columns.slice(0, 5).map((c) => c.column);
const statusBuckets = (b: BubbleUpResult) => b.columns.find((c) => c.column === 'status')!.buckets!.map((x) => [x.lower, x.upper]);

describe('BubbleUp over a sampled baseline', () => {
  let backend: Backend;
  const events = makeEvents();
  const slowEvents = events.filter((e) => (e.data.duration_ms as number) >= 1000).length;
  const bubble = async (extra: Record<string, unknown>): Promise<BubbleUpResult> => {
    const res = await postJson(`${backend.url}/api/bubbleup/api`, {
      start_time: START - 60,
      end_time: NOW + 60,
      selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1000 }] },
      ...extra,
    });
    expect(res.status).toBe(200);
    return res.body as BubbleUpResult;
  };
  beforeAll(async () => {
    backend = await freshBackend();
    for (let i = 0; i < events.length; i += 4000) {
      expect((await postJson(`${backend.url}/1/batch/api`, events.slice(i, i + 4000))).status).toBe(200);
    }
  }, 60_000);
  afterAll(async () => {
    await backend.close();
  });

  it('ranks the same top-5 columns from a sample of the baseline as from all of it, and says it sampled', async () => {
    const exact = await bubble({ exact: true, baseline_sample_rows: SAMPLE });
    const fast = await bubble({ baseline_sample_rows: SAMPLE });
    expect(top5(exact)).toEqual(PLANTED);
    expect(top5(fast)).toEqual(top5(exact));

    expect(exact.baseline_sampled).toBe(false);
    expect(exact.baseline_rows).toBe(EVENTS - slowEvents);
    expect(exact.baseline_sample_rows).toBe(EVENTS - slowEvents);
    expect(exact.baseline_error).toEqual({ fraction: 0, score: 0 });

    expect(fast.baseline_sampled).toBe(true);
    expect(fast.baseline_rows).toBe(EVENTS - slowEvents);
    // The hash keeps about SAMPLE of the baseline's rows; the count is what it kept.
    expect(fast.baseline_sample_rows).toBeGreaterThan(SAMPLE * 0.9);
    expect(fast.baseline_sample_rows).toBeLessThan(SAMPLE * 1.1);
    expect(fast.baseline_error.fraction).toBeCloseTo(1.96 * Math.sqrt(0.25 / fast.baseline_sample_rows), 12);
    // The selection is read whole, and the counts are the exact ones either way.
    expect(fast.selection).toEqual(exact.selection);
    expect(fast.baseline).toEqual(exact.baseline);
    expect(fast.example_trace_ids).toEqual(exact.example_trace_ids);
    // Every column is compared, and each score is within the stated error (5× its expected size) of the exact score.
    expect(fast.columns.map((c) => c.column).toSorted()).toEqual(exact.columns.map((c) => c.column).toSorted());
    for (const c of exact.columns) {
      const f = fast.columns.find((x) => x.column === c.column)!;
      expect(Math.abs(f.score - c.score), c.column).toBeLessThan(5 * fast.baseline_error.score);
    }
    // A numeric column is bucketed over the range of the rows compared: here the same (both ends occur in the selection).
    expect(statusBuckets(fast)).toEqual(statusBuckets(exact));
  });

  it('gives the same answer to the same request (the sample is keyed by a hash, not drawn at random)', async () => {
    const a = await bubble({ baseline_sample_rows: SAMPLE });
    const b = await bubble({ baseline_sample_rows: SAMPLE });
    expect(b).toEqual(a);
  });

  it('compares against the whole baseline when it is under the sample size, and rejects a bad sample size', async () => {
    expect(EVENTS).toBeLessThan(BASELINE_SAMPLE_ROWS);
    const whole = await bubble({});
    expect(whole.baseline_sampled).toBe(false);
    expect(whole.baseline_sample_rows).toBe(whole.baseline_rows);
    const bad = await postJson(`${backend.url}/api/bubbleup/api`, { selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1 }] }, baseline_sample_rows: 10 });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^baseline_sample_rows: must be an integer of at least 1000/);
    const notBool = await postJson(`${backend.url}/api/bubbleup/api`, { selection: { filters: [{ column: 'duration_ms', op: '>=', value: 1 }] }, exact: 'yes' });
    expect(notBool.status).toBe(400);
  });
});

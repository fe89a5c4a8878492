// `waggle release compare` on planted data with known answers: a regressed candidate fails (exit 1) naming what
// regressed, two healthy versions pass (exit 0), 5 events are not enough data (exit 3, never a pass), and one slow
// outlier among few requests does not fail the p99 rule.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '@waggle/backend';
import type { Span } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newTraceId, send, span, tracesData } from './fixtures.js';
import { runCli } from './run-cli.js';

let backend: Backend;
let dataDir: string;
let env: Record<string, string>;

/** Deterministic noise, so every run plants the same data. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

interface Profile {
  requests: number;
  /** duration_ms = base + spread × noise */
  base: number;
  spread: number;
  heap: number;
  logMs: number;
  loopDelay: number;
  errorEvery?: number;
  /** One request this slow, at the end. */
  outlierMs?: number;
}

const HEALTHY: Profile = { requests: 240, base: 8, spread: 12, heap: 0.21, logMs: 0.04, loopDelay: 11 };

function requests(version: string, p: Profile, seed: number, now: number): Span[] {
  const rnd = lcg(seed);
  const spans: Span[] = [];
  for (let i = 0; i < p.requests; i++) {
    const traceId = newTraceId();
    const route = i % 4 === 0 ? '/orders' : '/users/:id';
    const duration = p.outlierMs !== undefined && i === p.requests - 1 ? p.outlierMs : p.base + p.spread * rnd();
    const error = p.errorEvery !== undefined && i % p.errorEvery === 0;
    spans.push(
      span({
        traceId,
        name: `GET ${route}`,
        kind: 2,
        startMs: now - 200_000 + i * 500,
        durationMs: duration,
        error,
        attributes: {
          'http.route': route,
          'http.response.status_code': error ? 500 : 200,
          'runtime.heap.used_ratio': p.heap + 0.02 * rnd(),
          'runtime.eventloop.delay_p99_ms': p.loopDelay + 2 * rnd(),
          'log.duration_ms': p.logMs * (0.5 + rnd()),
          'log.bytes': Math.round(p.logMs * 4000 + 120),
          'rollup.db.duration_ms': 2 + rnd(),
        },
      }),
    );
  }
  spans.push(span({ traceId: newTraceId(), name: 'process.start', kind: 1, startMs: now - 210_000, durationMs: 0, attributes: { 'process.restart_count': 0 } }));
  return spans;
}

async function plant(service: string, baseline: Profile, candidate: Profile): Promise<void> {
  const now = Date.now();
  await send(
    backend.url,
    tracesData([
      { service, version: 'v41', spans: requests('v41', baseline, 7, now) },
      { service, version: 'v42', spans: requests('v42', candidate, 11, now) },
    ]),
  );
}

const compare = (dataset: string, ...extra: string[]) =>
  runCli(['release', 'compare', '--dataset', dataset, '--baseline', 'v41', '--candidate', 'v42', '--since', '30m', ...extra], env);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-release-'));
  backend = await startBackend({ port: 0, dataDir });
  env = { WAGGLE_URL: backend.url, WAGGLE_INCIDENT_DIR: join(dataDir, 'incidents') };
  // v42 deep-clones in its logger: slower, heavier heap, far more time in the logger.
  await plant('api-bad', HEALTHY, { ...HEALTHY, base: 40, spread: 160, heap: 0.52, logMs: 35, loopDelay: 45 });
  await plant('api-good', HEALTHY, { ...HEALTHY });
  await plant('api-few', HEALTHY, { ...HEALTHY, requests: 5 });
  await plant('api-outlier', { ...HEALTHY, requests: 60 }, { ...HEALTHY, requests: 60, outlierMs: 2500 });
  await plant('api-errors', HEALTHY, { ...HEALTHY, errorEvery: 8 });
});

afterAll(async () => {
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('waggle release compare', () => {
  it('fails a regressed candidate (exit 1), naming p99, heap and logger time, with the logger among the top differences', async () => {
    const text = await compare('api-bad');
    expect(text.code, text.stderr).toBe(1);
    const verdict = text.stdout.trim().split('\n').at(-1)!;
    expect(verdict).toMatch(/^FAIL: v42 regressed on p99 \(.*, limit 1\.5×\), heap_ratio \(.*, limit 1\.3×\), log_ms \(.*, limit 2×\) against v41 — halt the rollout\.$/);
    expect(text.stdout).toMatch(/^P99 duration_ms\s+[\d.]+\s+[\d.]+\s+[\d.]+×\s+1\.5×\s+FAIL$/m);
    expect(text.stdout).toMatch(/^crashes \(process\.crash\)\s+0\s+0\s+\+0\s+\+0\s+ok$/m);
    expect(text.stdout).toMatch(/p99: \d+ of 240 v42 requests slower than 1\.5× the v41 P99 \([\d.]+ ms\); p = < 0\.001/);

    const json = JSON.parse((await compare('api-bad', '--json')).stdout);
    expect(json.verdict).toBe('fail');
    expect(json.baseline.count).toBe(240);
    expect(json.candidate.count).toBe(240);
    const broken = json.rules.filter((r: { status: string }) => r.status === 'broken').map((r: { metric: string }) => r.metric);
    expect(broken).toEqual(['p99', 'heap_ratio', 'log_ms']);
    const logMs = json.rules.find((r: { metric: string }) => r.metric === 'log_ms');
    expect(logMs.change).toBeGreaterThan(100);
    // The logger's time grew most, and it leads the BubbleUp of v42's slow requests; the version itself and the
    // process-wide gauges (compared in the table) are not findings there.
    expect(json.largestChanges[0].metric).toBe('log_ms');
    expect(text.stdout).toMatch(/^Largest changes: logger ms per request \d+×, /m);
    const columns = json.bubbleup.result.columns.map((c: { column: string }) => c.column);
    expect(columns.slice(0, 2).toSorted()).toEqual(['log.bytes', 'log.duration_ms']);
    expect(columns).not.toContain('service.version');
    expect(columns.filter((c: string) => c.startsWith('runtime.heap') || c.startsWith('runtime.eventloop'))).toEqual([]);
    expect(text.stdout).toMatch(/What sets them apart: v42 requests slower than the v41 P95 \([\d.]+ ms\)/);
  });

  it('passes two healthy versions (exit 0)', async () => {
    const result = await compare('api-good');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n').at(-1)).toBe('PASS: v42 is within every limit against v41.');
  });

  it('with 5 events of the candidate there is no verdict: exit 3, not enough data', async () => {
    const result = await compare('api-few');
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/NOT ENOUGH DATA: v42 has 5 server spans in the window; each version needs 50 \(--min-events\)\. This is not a pass/);
    expect(result.stdout).toMatch(/Versions in the window: v41 \(240\), v42 \(5\)\./);
    const json = JSON.parse((await compare('api-few', '--json')).stdout);
    expect(json.verdict).toBe('not_enough_data');
    // Lowering the bar is the caller's explicit choice.
    expect((await compare('api-few', '--min-events', '5')).code).toBe(0);
  });

  it('one slow outlier among 60 requests makes a big P99 ratio but does not fail the p99 rule', async () => {
    const json = JSON.parse((await compare('api-outlier', '--json')).stdout);
    const p99 = json.rules.find((r: { metric: string }) => r.metric === 'p99');
    expect(p99.change).toBeGreaterThan(10);
    expect(p99.status).toBe('ok');
    expect(p99.note).toMatch(/^1 of 60 v42 requests slower than 1\.5× the v41 P99 \([\d.]+ ms\); p = 0\.45\d if it were no slower$/);
    expect(json.verdict).toBe('pass');
  });

  it('fails on a higher error rate, with the test behind it', async () => {
    const result = await compare('api-errors');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/FAIL: v42 regressed on error_rate \(\+12\.50pp, limit \+1pp\)/);
    expect(result.stdout).toMatch(/error_rate: 30 errors in 240 requests; p = < 0\.001 if the error rate were 1\.0%/);
    expect(result.stdout).toMatch(/What sets them apart: v42 requests that failed/);
  });

  it('takes its own rules, and refuses malformed ones (exit 2)', async () => {
    expect((await compare('api-bad', '--fail-on', 'crashes=+0')).code).toBe(0);
    expect((await compare('api-bad', '--fail-on', 'log_ms=2x')).code).toBe(1);
    const bad = await compare('api-bad', '--fail-on', 'p99=fast');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--fail-on "p99=fast": expected METRIC=LIMIT with METRIC one of p50, p95, p99, error_rate, heap_ratio, loop_delay, log_ms, crashes, starts/);
    expect((await compare('api-bad', '--fail-on', 'error_rate=+1')).stderr).toMatch(/percentage points, e\.g\. error_rate=\+1pp/);
    const missing = await runCli(['release', 'compare', '--dataset', 'api-bad', '--baseline', 'v41'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--baseline and --candidate are required/);
  });

  it('gives the same verdict through the Honeycomb target (Query Data API, BubbleUp by count queries)', async () => {
    const honeycomb = { HONEYCOMB_API_KEY: 'test-key', HONEYCOMB_API_ENDPOINT: backend.url, WAGGLE_INCIDENT_DIR: env.WAGGLE_INCIDENT_DIR! };
    const args = ['release', 'compare', '--dataset', 'api-bad', '--baseline', 'v41', '--candidate', 'v42', '--since', '30m', '--target', 'honeycomb'];
    const bad = await runCli(args, honeycomb);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL: v42 regressed on p99 .*heap_ratio .*log_ms/);
    expect((await runCli([...args.slice(0, 3), 'api-good', ...args.slice(4)], honeycomb)).code).toBe(0);
  });
});

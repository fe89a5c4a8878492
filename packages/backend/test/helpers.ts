import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBackend, type Backend, type BackendOptions, type QuerySpec } from '../src/index.js';

export function tempDir(prefix = 'waggle-backend-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A backend on a random port in a fresh data directory, removed on close. */
export async function freshBackend(options: BackendOptions = {}): Promise<Backend> {
  const dataDir = options.dataDir ?? tempDir();
  const backend = await startBackend({ port: 0, ...options, dataDir });
  return {
    ...backend,
    async close() {
      await backend.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed };
}

/** Runs a query through the Honeycomb flow: create the query, then its result (`result` adds to the result request). */
export async function runQuery(
  url: string,
  dataset: string,
  spec: QuerySpec,
  headers: Record<string, string> = {},
  result: { disable_series?: boolean; limit?: number } = {},
): Promise<{ results: { data: Record<string, any> }[]; series: { time: string; data: Record<string, any> }[] }> {
  const q = await postJson(`${url}/1/queries/${encodeURIComponent(dataset)}`, spec, headers);
  if (q.status !== 200) throw new Error(`query create failed ${q.status}: ${JSON.stringify(q.body)}`);
  const r = await postJson(`${url}/1/query_results/${encodeURIComponent(dataset)}`, { query_id: q.body.id, ...result }, headers);
  if (r.status !== 201) throw new Error(`query result failed ${r.status}: ${JSON.stringify(r.body)}`);
  if (r.body.complete !== true) throw new Error('query result not complete');
  const fetched = await fetch(`${url}/1/query_results/${encodeURIComponent(dataset)}/${r.body.id}`, { headers });
  const again = (await fetched.json()) as { data: typeof r.body.data };
  return again.data;
}

/**
 * Reference weighted percentile: the percentile of the population in which each value appears
 * `weight` times — the smallest value whose cumulative weight reaches p × total weight.
 */
export function weightedPercentile(values: number[], weights: number[], p: number): number {
  const pairs = values.map((v, i) => [v, weights[i]!] as const).toSorted((a, b) => a[0] - b[0]);
  const total = weights.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (const [v, w] of pairs) {
    cum += w;
    if (cum >= p * total) return v;
  }
  return pairs[pairs.length - 1]![0];
}

export function byKey<T extends { data: Record<string, any> }>(rows: T[], key: string): Map<unknown, Record<string, any>> {
  return new Map(rows.map((r) => [r.data[key], r.data]));
}

/** Any method, JSON body in and out (`body` undefined for 204 and empty answers). */
export async function request(url: string, method: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

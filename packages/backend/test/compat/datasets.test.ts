// Compatibility: dataset names (the Events API's "Dataset names are case insensitive…" paragraph, and the Datasets
// API's `slug`: "My Dataset!" → "my-dataset-").
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { encodeTraceRequest } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/index.js';
import { freshBackend, postJson, runQuery, tempDir } from '../helpers.js';
import { makeSpan, traces } from '../otlp-data.js';

async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function count(url: string, dataset: string, spec: Record<string, unknown> = { time_range: 3600 }): Promise<number> {
  const data = await runQuery(url, dataset, { calculations: [{ op: 'COUNT' }], ...spec });
  return Number(data.results[0]?.data.COUNT ?? 0);
}

describe('dataset names', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('"MyDatasET" lands in the same dataset as "mydataset"; the first casing is the displayed name', async () => {
    await postJson(`${backend.url}/1/batch/MyDataset`, [{ data: { n: 1 } }]);
    await postJson(`${backend.url}/1/batch/mydataset`, [{ data: { n: 2 } }]);
    await postJson(`${backend.url}/1/events/MYDATASET`, { n: 3 });
    const listed = (await getJson(`${backend.url}/1/datasets`)).body.filter((d: { slug: string }) => d.slug === 'mydataset');
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'MyDataset', slug: 'mydataset', regular_columns_count: 1 });
    expect(listed[0].created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    for (const spelling of ['MyDataset', 'mydataset', 'MYDATASET', 'myDataSet']) {
      expect(await count(backend.url, spelling)).toBe(3);
      expect((await getJson(`${backend.url}/1/datasets/${spelling}`)).body.name).toBe('MyDataset');
      expect((await getJson(`${backend.url}/1/columns/${spelling}`)).body.map((c: { key_name: string }) => c.key_name)).toEqual(['n']);
    }
  });

  it('"My%20Dataset" shows as "My Dataset", its slug is "my-dataset", and the slug names it in every API', async () => {
    const res = await postJson(`${backend.url}/1/batch/My%20Dataset`, [{ data: { n: 1 } }, { data: { n: 2 } }]);
    expect(res.status).toBe(200);
    const one = await getJson(`${backend.url}/1/datasets/my-dataset`);
    expect(one.body).toMatchObject({ name: 'My Dataset', slug: 'my-dataset' });
    expect((await getJson(`${backend.url}/1/datasets/My%20Dataset`)).body.name).toBe('My Dataset');
    expect(await count(backend.url, 'my-dataset')).toBe(2);
    expect(await count(backend.url, 'MY DATASET')).toBe(2);
    // Honeycomb's own example: "My Dataset!" has the slug "my-dataset-".
    await postJson(`${backend.url}/1/batch/${encodeURIComponent('My Dataset!')}`, [{ data: { n: 1 } }]);
    expect((await getJson(`${backend.url}/1/datasets/my-dataset-`)).body).toMatchObject({ name: 'My Dataset!', slug: 'my-dataset-' });
  });

  it('OTLP service.name and the Events API name one dataset whatever their casing', async () => {
    const body = encodeTraceRequest(traces('Payments-API', [makeSpan(), makeSpan()]), 'protobuf');
    const otlp = await fetch(`${backend.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    expect(otlp.status).toBe(200);
    await postJson(`${backend.url}/1/batch/payments-api`, [{ data: { 'service.name': 'payments-api', name: 'from libhoney' } }]);
    const listed = (await getJson(`${backend.url}/1/datasets`)).body.filter((d: { slug: string }) => d.slug === 'payments-api');
    expect(listed.map((d: { name: string }) => d.name)).toEqual(['Payments-API']);
    expect(await count(backend.url, 'PAYMENTS-api')).toBe(3);
  });

  it('an unknown dataset is still 404, under any spelling', async () => {
    const res = await postJson(`${backend.url}/1/queries/Nope`, { calculations: [{ op: 'COUNT' }] });
    expect(res).toEqual({ status: 404, body: { error: 'dataset "Nope" not found' } });
    expect((await getJson(`${backend.url}/1/datasets/nope`)).status).toBe(404);
  });
});

describe('a data directory written before dataset names were case-insensitive', () => {
  it('opens with datasets that differ only in case merged under the earliest one, events, columns and markers kept', async () => {
    // Written by Waggle at main 1b420ba (before this change): "ProBe" (first event 10:00:00, n=1 and n=2),
    // "probe" (10:00:20, n=3, samplerate 5), "PROBE" (10:00:30, n=4), "other" (n=5); a marker on "probe".
    const dataDir = tempDir();
    execFileSync('tar', ['xzf', path.join(import.meta.dirname, '../fixtures/datadir-main-1b420ba.tgz'), '-C', dataDir]);
    const backend = await startBackend({ port: 0, dataDir, retention: { maxAgeHours: 0 } });
    try {
      const window = { start_time: Date.UTC(2026, 10, 20, 10) / 1000, end_time: Date.UTC(2026, 10, 20, 11) / 1000 };
      const datasets = (await getJson(`${backend.url}/1/datasets`)).body.map((d: { name: string; slug: string }) => [d.name, d.slug]);
      expect(datasets.toSorted()).toEqual([
        ['ProBe', 'probe'],
        ['other', 'other'],
      ]);
      const data = await runQuery(backend.url, 'probe', { ...window, calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'n' }] });
      expect(data.results[0]!.data).toEqual({ COUNT: 1 + 1 + 5 + 1, 'SUM(n)': 1 + 2 + 3 * 5 + 4 });
      const columns = (await getJson(`${backend.url}/1/columns/PROBE`)).body.map((c: { key_name: string }) => c.key_name);
      expect(columns.toSorted()).toEqual(['n', 'only_lower', 'only_upper']);
      const markers = (await getJson(`${backend.url}/1/markers/ProBe`)).body;
      expect(markers.map((m: { message: string; dataset: string }) => [m.message, m.dataset])).toEqual([['deploy', 'ProBe']]);
      expect(await count(backend.url, 'other', window)).toBe(1);
    } finally {
      await backend.close();
    }
    // Opening it again keeps the merge (it is stored, not recomputed).
    const again = await startBackend({ port: 0, dataDir, retention: { maxAgeHours: 0 } });
    try {
      expect((await getJson(`${again.url}/1/datasets/PrObE`)).body).toMatchObject({ name: 'ProBe', slug: 'probe' });
    } finally {
      await again.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

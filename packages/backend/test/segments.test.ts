import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TraceEntry } from '../src/index.js';
import { eventsRecord } from '../src/ingest-records.js';
import type { IngestEvent } from '../src/internal-types.js';
import { IN_PLACE_MAX_CHANGES, MERGE_MAX_ROWS, SHED_COLUMNS } from '../src/segments.js';
import { Store } from '../src/store.js';
import { runQuery, tempDir } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir('waggle-segments-');
  dirs.push(d);
  return d;
}

const now = Date.now();
const event = (fields: IngestEvent['fields'], dataset = 'seg'): IngestEvent => ({ time: now, dataset, sampleRate: 1, fields });

async function ingest(store: Store, events: IngestEvent[]): Promise<void> {
  await store.ingest(eventsRecord(events), events);
  await store.settle();
}

/** The physical columns of a table. */
async function columnsOf(store: Store, table: string): Promise<string[]> {
  const r = await store.reader().runAndReadAll('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [table]);
  return r.getRowObjectsJS().map((row) => String(row.column_name));
}

async function values(store: Store, key: string): Promise<unknown[]> {
  const col = store.column(key)!;
  const r = await store.reader().runAndReadAll(`SELECT "${col.physical}" AS v FROM events WHERE "${col.physical}" IS NOT NULL ORDER BY ts, v`);
  return r.getRowObjectsJS().map((row) => row.v);
}

describe('events is a view over segment tables: schema changes never rewrite stored rows', () => {
  it('new keys on a big active segment go into a new segment; queries see every event with every key', async () => {
    const store = await Store.open(dir());
    try {
      const many = Array.from({ length: MERGE_MAX_ROWS + 100 }, (_, i) => event({ i, n: 1 }));
      await ingest(store, many);
      const [first] = store.segmentTables();
      const wide = Object.fromEntries(Array.from({ length: IN_PLACE_MAX_CHANGES + 1 }, (_, i) => [`new${i}`, i]));
      await ingest(store, [event({ ...wide, n: 'seven' }), event({ n: 7 })]);
      const tables = store.segmentTables();
      expect(tables).toHaveLength(2);
      expect(tables[0]).toBe(first);
      // The stored rows were not touched: the old segment has neither the new columns nor the widened type.
      const oldColumns = await columnsOf(store, first!);
      expect(oldColumns).not.toContain(store.column('new0')!.physical);
      // Through the view every event is there, and the old numbers read as text like JavaScript writes them.
      const counted = await store.reader().runAndReadAll('SELECT count(*) AS c FROM events');
      expect(Number(counted.getRowObjectsJS()[0]!.c)).toBe(many.length + 2);
      expect(store.column('n')!.type).toBe('VARCHAR');
      expect(new Set(await values(store, 'n'))).toEqual(new Set(['1', '7', 'seven']));
      expect(await values(store, 'new3')).toEqual([3]);
    } finally {
      await store.close();
    }
  });

  it('a new key and a type change on a small active segment: the key is added in place and queryable through the view; the type change gets a new segment', async () => {
    const store = await Store.open(dir());
    try {
      await ingest(store, [event({ n: 1, 'trace.trace_id': 'inplace-1' })]);
      const before = store.segmentTables();
      await ingest(store, [event({ extra: 'x', 'trace.trace_id': 'inplace-1' })]);
      expect(store.segmentTables()).toEqual(before);
      // Through the view (SELECT *, as the trace fetch reads) the added column is there.
      const all = (await store.reader().runAndReadAll(`SELECT * FROM events WHERE trace_id = 'inplace-1'`)).getRowObjectsJS();
      expect(all.map((r) => r[store.column('extra')!.physical])).toContain('x');
      await ingest(store, [event({ n: 'seven' })]);
      // A new active segment (the small old one copied into it), not an ALTER of the column's type.
      expect(store.segmentTables().at(-1)).not.toBe(before.at(-1));
      expect(new Set(await values(store, 'n'))).toEqual(new Set(['1', 'seven']));
      const all2 = (await store.reader().runAndReadAll('SELECT * FROM events')).getRowObjectsJS();
      expect(all2).toHaveLength(3);
    } finally {
      await store.close();
    }
  });

  it('a read names only its columns: FROM events becomes a union of the segments with just those (and the fixed ones)', async () => {
    const store = await Store.open(dir());
    try {
      await ingest(store, [event(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])))]);
      const k7 = store.column('k7')!.physical;
      const sql = store.narrowEvents(`SELECT count(*) AS n FROM events WHERE "${k7}" = 7`);
      expect(sql).toContain(`"${k7}"`);
      expect(sql).not.toContain(`"${store.column('k8')!.physical}"`);
      expect(sql).not.toMatch(/FROM events\b/);
      const rows = (await store.reader().runAndReadAll(`SELECT count(*) AS n FROM events WHERE "${k7}" = 7`)).getRowObjectsJS();
      expect(rows).toEqual([{ n: 1n }]);
      // SELECT * keeps the whole view.
      expect(store.narrowEvents('SELECT * FROM events')).toBe('SELECT * FROM events');
    } finally {
      await store.close();
    }
  });

  it('a burst of one-off keys is left behind in its segment at the next commit; its event keeps every field', async () => {
    const dataDir = dir();
    const backend = await startBackend({ port: 0, dataDir });
    try {
      const post = (body: unknown) =>
        fetch(`${backend.url}/1/batch/burst`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const oneOff = Object.fromEntries(Array.from({ length: SHED_COLUMNS + 50 }, (_, i) => [`junk${i}`, i]));
      expect((await post([{ data: { 'trace.trace_id': 'burst-1', ...oneOff } }])).status).toBe(200);
      await fetch(`${backend.url}/api/traces/burst-1`);
      expect((await post([{ data: { 'trace.trace_id': 'burst-2', route: '/a' } }])).status).toBe(200);
      const res = await fetch(`${backend.url}/api/traces/burst-1`);
      const [entry] = ((await res.json()) as { spans: TraceEntry[] }).spans;
      expect(Object.keys(entry!.data).filter((k) => k.startsWith('junk'))).toHaveLength(SHED_COLUMNS + 50);
    } finally {
      await backend.close();
    }
    const store = await Store.open(dataDir);
    try {
      const active = await columnsOf(store, store.segmentTables().at(-1)!);
      expect(active.length).toBeLessThan(50);
      expect(active).toContain(store.column('route')!.physical);
    } finally {
      await store.close();
    }
  });

  it('past the column limit the values of new keys are dropped and counted; known keys keep being stored', async () => {
    const store = await Store.open(dir(), { maxColumns: 20 });
    try {
      // 8 pinned keys, then 12 new ones fit; the other 8 of the first event do not.
      await ingest(store, [event(Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])))]);
      await ingest(store, [event({ k0: 100, late: 1 })]);
      expect(store.column('k11')).toBeDefined();
      expect(store.column('k12')).toBeUndefined();
      expect(store.column('late')).toBeUndefined();
      expect(store.limits.counts.column_limit).toBe(9);
      expect(await values(store, 'k0')).toEqual([0, 100]);
    } finally {
      await store.close();
    }
  });

  it('retention drops a segment it empties, and the view goes on without it', async () => {
    const store = await Store.open(dir());
    try {
      const old = Array.from({ length: MERGE_MAX_ROWS + 1 }, (_, i) => ({ ...event({ i }), time: now - 10 * 3_600_000 }));
      await ingest(store, old);
      await ingest(store, [event({ ...Object.fromEntries(Array.from({ length: IN_PLACE_MAX_CHANGES + 1 }, (_, i) => [`k${i}`, i])), i: -1 })]);
      expect(store.segmentTables()).toHaveLength(2);
      const { deleted } = await store.applyRetention({ maxAgeHours: 1 });
      expect(deleted).toBe(old.length);
      expect(store.segmentTables()).toHaveLength(1);
      expect(await values(store, 'i')).toEqual([-1]);
    } finally {
      await store.close();
    }
  });

  it('a data directory written by main 1b420ba (events a table, schema 2) opens with its events, types and traces', async () => {
    const dataDir = dir();
    execFileSync('tar', ['xzf', path.join(import.meta.dirname, 'fixtures', 'datadir-schema2-widened.tgz'), '-C', dataDir]);
    const backend = await startBackend({ port: 0, dataDir, retention: { maxAgeHours: 0 } });
    try {
      const data = await runQuery(backend.url, 'shop', {
        start_time: Date.parse('2026-12-01T11:00:00Z') / 1000,
        end_time: Date.parse('2026-12-01T13:00:00Z') / 1000,
        breakdowns: ['n'],
        calculations: [{ op: 'COUNT' }],
      });
      expect(new Set(data.results.map((r) => r.data.n))).toEqual(new Set(['7', '2.5', 'seven']));
      const trace = (await (await fetch(`${backend.url}/api/traces/trace-old-1`)).json()) as { spans: TraceEntry[] };
      expect(trace.spans.map((s) => s.data.name)).toEqual(['GET /cart', 'SELECT']);
      // New data lands beside it.
      const res = await fetch(`${backend.url}/1/batch/shop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ data: { fresh: true } }]) });
      expect(res.status).toBe(200);
      expect((await runQuery(backend.url, 'shop', { time_range: 600, filters: [{ column: 'fresh', op: 'exists' }] })).results[0]!.data.COUNT).toBe(1);
    } finally {
      await backend.close();
    }
  });
});

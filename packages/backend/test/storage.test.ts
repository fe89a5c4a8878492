import { appendFileSync, cpSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeTraceRequest } from '@waggle/otlp';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TraceEntry } from '../src/index.js';
import { IngestLog } from '../src/ingest-log.js';
import { eventsRecord, otlpRecord } from '../src/ingest-records.js';
import { quoteIdent } from '../src/sql.js';
import { Store } from '../src/store.js';
import { runQuery, tempDir } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

async function withDb(dataDir: string, fn: (run: (sql: string) => Promise<void>) => Promise<void>): Promise<void> {
  const instance = await DuckDBInstance.create(path.join(dataDir, 'waggle.duckdb'));
  const conn = await instance.connect();
  try {
    await fn(async (sql) => void (await conn.run(sql)));
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

describe('data directories written by older layouts', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('a data directory with the schema-1 trace index (32-bit key + id text) opens and finds its traces', async () => {
    const dataDir = tempDir('waggle-upgrade-');
    dirs.push(dataDir);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const first = await startBackend({ port: 0, dataDir });
    const spans = [makeSpan({ traceId, spanId: '00f067aa0ba902b7' }), makeSpan({ traceId, spanId: '00f067aa0ba902b8', parentSpanId: '00f067aa0ba902b7' })];
    const res = await fetch(`${first.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeTraceRequest(traces('old', spans), 'protobuf'),
    });
    expect(res.status).toBe(200);
    await first.close();
    // Put the directory back the way schema 1 left it: no meta table, the old index layout (with a wrong key,
    // so only a rebuilt index can find the trace).
    await withDb(dataDir, async (run) => {
      await run('DROP TABLE waggle_meta');
      await run('DROP TABLE waggle_trace_index');
      await run(
        'CREATE TABLE waggle_trace_index (trace_key UINTEGER NOT NULL, trace_id VARCHAR NOT NULL, ts_min DOUBLE NOT NULL, ts_max DOUBLE NOT NULL)',
      );
      await run(`INSERT INTO waggle_trace_index VALUES (1, '${traceId}', 0, 0)`);
    });

    const second = await startBackend({ port: 0, dataDir });
    try {
      const got = await fetch(`${second.url}/api/traces/${traceId}`);
      expect(got.status).toBe(200);
      const entries = ((await got.json()) as { spans: TraceEntry[] }).spans;
      expect(entries.map((e) => e.data['trace.span_id']).toSorted()).toEqual(['00f067aa0ba902b7', '00f067aa0ba902b8']);
    } finally {
      await second.close();
    }
  });

  it('a data directory from a newer schema is refused with WAGGLE_BACKEND_SCHEMA_UNSUPPORTED', async () => {
    const dataDir = tempDir('waggle-newer-');
    dirs.push(dataDir);
    await (await startBackend({ port: 0, dataDir })).close();
    await withDb(dataDir, async (run) => {
      await run("UPDATE waggle_meta SET value = '999' WHERE key = 'schema_version'");
    });
    await expect(startBackend({ port: 0, dataDir })).rejects.toThrow(/WAGGLE_BACKEND_SCHEMA_UNSUPPORTED: .*schema version 999/);
  });
});

/** The `s` values of dataset `strings`, by their `i`. */
async function readStrings(url: string): Promise<Map<number, string>> {
  const rows = await runQuery(url, 'strings', { time_range: 3600, breakdowns: ['i', 's'], calculations: [{ op: 'COUNT' }] });
  return new Map(rows.results.map((r) => [r.data.i as number, r.data.s as string]));
}

describe('the ingest log', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('acknowledged requests that never reached DuckDB are replayed from the log on startup; a torn tail is ignored', async () => {
    const dataDir = tempDir('waggle-replay-');
    dirs.push(dataDir);
    await (await startBackend({ port: 0, dataDir })).close();
    // What a killed backend leaves behind: records in the log that DuckDB does not hold, the last one cut short.
    const log = await IngestLog.open(path.join(dataDir, 'ingest-log'));
    // A record this version cannot read is quarantined with a warning instead of keeping the backend from starting.
    await log.append({ kind: 99, meta: '', body: new Uint8Array([1, 2, 3]) });
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4736';
    const spans = [makeSpan({ traceId, spanId: '10f067aa0ba902b7' }), makeSpan({ traceId, spanId: '10f067aa0ba902b8' })];
    await log.append(otlpRecord(encodeTraceRequest(traces('replayed', spans), 'protobuf'), 'protobuf'));
    const batch = [{ time: Date.now() - 1000, dataset: 'replayed-events', sampleRate: 1, fields: { n: 7, s: 'short', long: 'x'.repeat(40) } }];
    const end = await log.append(eventsRecord(batch));
    await log.close(false);
    appendFileSync(path.join(dataDir, 'ingest-log', `${String(end.segment).padStart(12, '0')}.log`), Buffer.from([200, 0, 0, 0, 1, 2, 3]));

    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code}: ${w.message}`);
    process.on('warning', onWarning);
    const backend = await startBackend({ port: 0, dataDir }).finally(() => process.off('warning', onWarning));
    expect(warnings).toEqual([expect.stringMatching(/^WAGGLE_BACKEND_LOG_QUARANTINED: .*quarantine.*unknown ingest log record kind 99/)]);
    try {
      const trace = (await (await fetch(`${backend.url}/api/traces/${traceId}`)).json()) as { spans: TraceEntry[] };
      expect(trace.spans.map((e) => e.data['trace.span_id']).toSorted()).toEqual(['10f067aa0ba902b7', '10f067aa0ba902b8']);
      const rows = await runQuery(backend.url, 'replayed-events', { time_range: 3600, breakdowns: ['n', 's', 'long'], calculations: [{ op: 'COUNT' }] });
      expect(rows.results.map((r) => r.data)).toEqual([{ n: 7, s: 'short', long: 'x'.repeat(40), COUNT: 1 }]);
    } finally {
      await backend.close();
    }
    // Once DuckDB holds everything, the log's segments are gone: the log stays bounded (the quarantined record apart).
    expect(readdirSync(path.join(dataDir, 'ingest-log'))).toEqual(['quarantine']);
    // And a second start replays nothing twice.
    const again = await startBackend({ port: 0, dataDir });
    try {
      const rows = await runQuery(again.url, 'replayed-events', { time_range: 3600, calculations: [{ op: 'COUNT' }] });
      expect(rows.results[0]!.data.COUNT).toBe(1);
    } finally {
      await again.close();
    }
  });

  it('a request split across two commits is stored exactly once when the backend dies between them', async () => {
    const dataDir = tempDir('waggle-split-');
    const crashed = tempDir('waggle-split-crashed-');
    dirs.push(dataDir, crashed);
    // Commits of 100 events: the 150-event request goes in as 100 now and 50 in the next commit.
    const store = await Store.open(dataDir, { batchEvents: 100 });
    const events = Array.from({ length: 150 }, (_, i) => ({ time: Date.now() - 1000, dataset: 'split', sampleRate: 1, fields: { i } }));
    await store.ingest(eventsRecord(events), events);
    // Between the two commits (the writer waits for more events first), copy the data directory: what kill -9 leaves.
    const applied = async (): Promise<string | undefined> =>
      (await store.reader().runAndReadAll("SELECT value FROM waggle_meta WHERE key = 'ingest_log_applied'")).getRowObjectsJS()[0]?.value as string | undefined;
    while (!/^\d+:\d+:100$/.test((await applied()) ?? '')) await new Promise((r) => setTimeout(r, 2));
    cpSync(dataDir, crashed, { recursive: true });
    await store.settle();
    await store.close();

    const restarted = await Store.open(crashed, { batchEvents: 100 });
    try {
      const rows = (await restarted.reader().runAndReadAll(`SELECT count(*) AS n, count(DISTINCT ${quoteIdent(restarted.column('i')!.physical)}) AS distinct_i FROM events`)).getRowObjectsJS();
      expect(rows).toEqual([{ n: 150n, distinct_i: 150n }]);
    } finally {
      await restarted.close();
    }
  });

  it('back-to-back commits of requests split across them store every request once, with retention running between them', async () => {
    const dataDir = tempDir('waggle-pipeline-');
    dirs.push(dataDir);
    // Commits of 64 events and requests of 40: most commits take one request in part.
    const store = await Store.open(dataDir, { batchEvents: 64 });
    const now = Date.now();
    const requests = Array.from({ length: 30 }, (_request, r) =>
      Array.from({ length: 40 }, (_, i) => ({ time: now - 1000, dataset: 'pipeline', sampleRate: 1, fields: { r, i, [`key${r % 7}`]: r } })),
    );
    const retention = (async () => {
      for (let i = 0; i < 5; i++) await store.applyRetention({ maxAgeHours: 1 });
    })();
    await Promise.all(requests.map((events) => store.ingest(eventsRecord(events), events)));
    await retention;
    await store.settle();
    const applied = (await store.reader().runAndReadAll("SELECT value FROM waggle_meta WHERE key = 'ingest_log_applied'")).getRowObjectsJS()[0]?.value;
    await store.close();

    const reopened = await Store.open(dataDir, { batchEvents: 64 });
    try {
      const r = quoteIdent(reopened.column('r')!.physical);
      const i = quoteIdent(reopened.column('i')!.physical);
      const rows = (await reopened.reader().runAndReadAll(`SELECT count(*) AS n, count(DISTINCT (${r}, ${i})) AS distinct_events FROM events`)).getRowObjectsJS();
      expect(rows).toEqual([{ n: 1200n, distinct_events: 1200n }]);
      // The last commit recorded the end of the last request: nothing was replayed.
      expect(applied).toMatch(/^\d+:\d+$/);
    } finally {
      await reopened.close();
    }
  });

  it('a failed COMMIT is retried; every acknowledged event is stored once', async () => {
    const dataDir = tempDir('waggle-commit-fails-');
    dirs.push(dataDir);
    const store = await Store.open(dataDir, { batchEvents: 50 });
    // The first data COMMIT (the one after the applied position is written) fails.
    const writer = (store as unknown as { writer: { run: (sql: string, values?: unknown) => Promise<unknown> } }).writer;
    const run = writer.run.bind(writer);
    let last = '';
    let failures = 1;
    writer.run = (sql, values) => {
      const after = last;
      last = sql;
      if (sql === 'COMMIT' && after.includes('ingest_log_applied') && failures > 0) {
        failures--;
        return Promise.reject(new Error('disk on fire'));
      }
      return run(sql, values);
    };
    const now = Date.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_request, r) => {
        const events = Array.from({ length: 40 }, (_, i) => ({ time: now - 1000, dataset: 'retried', sampleRate: 1, fields: { r, i } }));
        return store.ingest(eventsRecord(events), events);
      }),
    );
    const acknowledged = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(acknowledged).toBeGreaterThan(0);
    try {
      const count = async (): Promise<bigint> =>
        (await store.reader().runAndReadAll("SELECT count(*) AS n FROM events WHERE dataset = 'retried'")).getRowObjectsJS()[0]!.n as bigint;
      // Retries come every second: wait for them to store everything acknowledged.
      for (let i = 0; i < 100 && (await count()) < BigInt(acknowledged * 40); i++) await new Promise((r) => setTimeout(r, 50));
      expect(failures).toBe(0);
      const r = quoteIdent(store.column('r')!.physical);
      const i = quoteIdent(store.column('i')!.physical);
      const rows = (await store.reader().runAndReadAll(`SELECT count(*) AS n, count(DISTINCT (${r}, ${i})) AS distinct_events FROM events`)).getRowObjectsJS();
      expect(rows).toEqual([{ n: BigInt(acknowledged * 40), distinct_events: BigInt(acknowledged * 40) }]);
    } finally {
      await store.close();
    }
  });

  it('text of every length and script survives storage (short ASCII values are written inline)', async () => {
    const dataDir = tempDir('waggle-strings-');
    dirs.push(dataDir);
    const values = ['', 'a', 'abcdefghijkl', 'abcdefghijklm', 'héllo', 'é', '😀', 'y'.repeat(100), 'tab\there', '12x', 'nul\u0000in'];
    // Halves of one surrogate pair in two neighbouring values (JSON can carry lone ones) are two U+FFFD, not one emoji
    // (which shifted every string after them and made DuckDB refuse the commit).
    const halves = ['a'.repeat(20) + '\uD83D', '\uDE00' + 'b'.repeat(20)];
    const expected = [...values, `${'a'.repeat(20)}\uFFFD`, `\uFFFD${'b'.repeat(20)}`];
    const first = await startBackend({ port: 0, dataDir });
    const res = await fetch(`${first.url}/1/batch/strings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([...values, ...halves].map((s, i) => ({ data: { s, i } }))),
    });
    expect(res.status).toBe(200);
    expect([...(await readStrings(first.url)).entries()].toSorted((a, b) => a[0] - b[0]).map((e) => e[1])).toEqual(expected);
    const equal = await runQuery(first.url, 'strings', { time_range: 3600, filters: [{ column: 's', op: '=', value: 'abcdefghijkl' }], calculations: [{ op: 'COUNT' }] });
    expect(equal.results[0]!.data.COUNT).toBe(1);
    await first.close();
    const second = await startBackend({ port: 0, dataDir });
    try {
      expect([...(await readStrings(second.url)).entries()].toSorted((a, b) => a[0] - b[0]).map((e) => e[1])).toEqual(expected);
    } finally {
      await second.close();
    }
  });
});

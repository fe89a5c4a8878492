import { rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeTraceRequest } from '@waggle/otlp';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend, type TraceEntry } from '../src/index.js';
import { tempDir } from './helpers.js';
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

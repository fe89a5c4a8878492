// Issue 20: the ingest log can never wedge start-up. A record that cannot be applied is moved aside with a warning
// naming it, and the backend starts with every other record.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTraceRequest } from '@waggle/otlp';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackend } from '../src/index.js';
import { IngestLog } from '../src/ingest-log.js';
import { eventsRecord, otlpRecord, RECORD_EVENTS } from '../src/ingest-records.js';
import { runQuery, tempDir } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const built = existsSync(path.join(here, '..', 'dist', 'index.js'));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = tempDir('waggle-quarantine-');
  dirs.push(d);
  return d;
}

const goodEvents = (dataset: string, n: number) => Array.from({ length: n }, (_, i) => ({ time: Date.now() - 1000, dataset, sampleRate: 1, fields: { i } }));

async function count(url: string, dataset: string): Promise<number> {
  return ((await runQuery(url, dataset, { time_range: 3600 })).results[0]?.data.COUNT as number | undefined) ?? 0;
}

/** Starts the built backend in a child process with a V8 heap of `heapMiB`; resolves with its URL, or its exit and stderr. */
function startChild(dir: string, heapMiB: number): Promise<{ url?: string; code?: number | null; stderr: string; stop: () => void }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMiB}`, path.join(here, 'fixtures', 'serve.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    const stop = (): void => void child.kill('SIGKILL');
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, stderr, stop });
    });
    child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stderr, stop }));
  });
}

describe('a record that cannot be applied is quarantined and start-up continues', () => {
  it('a poisoned record (its CRC intact, its events unreadable) is moved to quarantine/ with a warning naming the file', async () => {
    const dir = dataDir();
    await (await startBackend({ port: 0, dataDir: dir })).close();
    const log = await IngestLog.open(path.join(dir, 'ingest-log'));
    await log.append(eventsRecord(goodEvents('before', 3)));
    const poison = { kind: RECORD_EVENTS, meta: '', body: Buffer.from('[{"time": 1, "dataset": "x", "fields": ') };
    const poisonEnd = await log.append(poison);
    await log.append(eventsRecord(goodEvents('after', 4)));
    await log.close(false);

    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code}: ${w.message}`);
    process.on('warning', onWarning);
    const backend = await startBackend({ port: 0, dataDir: dir }).finally(() => process.off('warning', onWarning));
    try {
      expect(await count(backend.url, 'before')).toBe(3);
      expect(await count(backend.url, 'after')).toBe(4);
    } finally {
      await backend.close();
    }
    const files = readdirSync(path.join(dir, 'ingest-log', 'quarantine'));
    expect(files).toHaveLength(1);
    const file = path.join(dir, 'ingest-log', 'quarantine', files[0]!);
    expect(warnings).toEqual([expect.stringContaining(`WAGGLE_BACKEND_LOG_QUARANTINED: ingest log record at ${poisonEnd.segment}:`)]);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toMatch(/JSON/);
    // The file holds the record as the log framed it: its body is there to inspect.
    expect(readFileSync(file).includes(poison.body)).toBe(true);
  });

  it.runIf(built)('a record that kills the process while it is applied is quarantined by the start after the one that died on it alone', async () => {
    const dir = dataDir();
    await (await startBackend({ port: 0, dataDir: dir })).close();
    const log = await IngestLog.open(path.join(dir, 'ingest-log'));
    await log.append(eventsRecord(goodEvents('before', 2)));
    // 150,000 spans as OTLP JSON (about 40 MB): decoding them needs far more than a 96 MiB heap.
    const spans = Array.from({ length: 150_000 }, () => makeSpan({ attributes: { 'http.route': '/users/:id' } }));
    await log.append(otlpRecord(encodeTraceRequest(traces('huge', spans), 'json'), 'json'));
    await log.append(eventsRecord(goodEvents('after', 5)));
    await log.close(false);

    // First start: dies replaying the batch. Second: replays one record at a time, dies on the huge one.
    const first = await startChild(dir, 96);
    expect(first.url, first.stderr).toBeUndefined();
    const second = await startChild(dir, 96);
    expect(second.url, second.stderr).toBeUndefined();
    // Third: the huge record is moved aside; the backend starts with everything else.
    const third = await startChild(dir, 96);
    try {
      expect(third.url, third.stderr).toBeDefined();
      expect(await count(third.url!, 'before')).toBe(2);
      expect(await count(third.url!, 'after')).toBe(5);
      expect(third.stderr).toMatch(/WAGGLE_BACKEND_LOG_QUARANTINED\] Warning: .*quarantine\/\d{12}-\d+\.record: the backend died applying it alone/);
    } finally {
      third.stop();
    }
    expect(readdirSync(path.join(dir, 'ingest-log', 'quarantine'))).toHaveLength(1);
  }, 180_000);
});

describe('a request DuckDB refuses while running is quarantined; the ones after it are committed', () => {
  it('after two failed commits requests go one at a time; the one refused alone three times is moved aside', async () => {
    const dir = dataDir();
    const { Store } = await import('../src/store.js');
    const store = await Store.open(dir);
    // What a value DuckDB cannot store does: every commit holding the request fails (with a data error, not an IO one).
    const s = store as unknown as { commit: (parts: { events: { columns: Map<string, unknown> } }[], applied: unknown) => Promise<void> };
    const commit = s.commit.bind(store);
    s.commit = async (parts, applied) => {
      if (parts.some((p) => p.events.columns.has('poison'))) throw new Error('Invalid Input Error: this value cannot be stored');
      return commit(parts as never, applied);
    };
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const a = goodEvents('a', 3);
      const poison = [{ time: Date.now() - 1000, dataset: 'p', sampleRate: 1, fields: { poison: 1 } }];
      const b = goodEvents('b', 4);
      await Promise.all([a, poison, b].map((events) => store.ingest(eventsRecord(events), events)));
      // Reads refuse while the poison blocks commits, then see everything but it.
      for (let i = 0; i < 120; i++) {
        const ok = await store.settle().then(() => true, () => false);
        if (ok) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      await store.settle();
      const rows = (await store.reader().runAndReadAll('SELECT dataset, count(*) AS n FROM events GROUP BY 1 ORDER BY 1')).getRowObjectsJS();
      expect(rows).toEqual([{ dataset: 'a', n: 3n }, { dataset: 'b', n: 4n }]);
      expect(warnings).toContainEqual(expect.stringMatching(/^WAGGLE_BACKEND_LOG_QUARANTINED: .*DuckDB refused it alone three times: Invalid Input Error/));
      // A refused request with nothing after it: once it is moved aside nothing is failing, and ingest is taken again.
      const last = [{ time: Date.now() - 1000, dataset: 'p', sampleRate: 1, fields: { poison: 2 } }];
      await store.ingest(eventsRecord(last), last);
      const quarantine = path.join(dir, 'ingest-log', 'quarantine');
      for (let i = 0; i < 120 && readdirSync(quarantine).length < 2; i++) await new Promise((r) => setTimeout(r, 250));
      expect(readdirSync(quarantine)).toHaveLength(2);
      await store.ingest(eventsRecord(goodEvents('c', 1)), goodEvents('c', 1));
    } finally {
      process.off('warning', onWarning);
      await store.close();
    }
    const quarantined = readdirSync(path.join(dir, 'ingest-log', 'quarantine')).length;
    // Not replayed at the next start: the applied position moved past it.
    const again = await startBackend({ port: 0, dataDir: dir });
    try {
      expect(await count(again.url, 'c')).toBe(1);
    } finally {
      await again.close();
    }
    expect(readdirSync(path.join(dir, 'ingest-log', 'quarantine'))).toHaveLength(quarantined);
  }, 120_000);
});

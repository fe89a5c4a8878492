// A full disk: ingest is refused with 503 (and logged), reads never answer without acknowledged events, and once
// there is room again every acknowledged event is there.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startBackend } from '../src/index.js';
import { eventsRecord } from '../src/ingest-records.js';
import { Store, StoreUnavailableError } from '../src/store.js';
import { postJson, tempDir } from './helpers.js';

/** A 24 MiB tmpfs (needs root and a kernel that lets it mount), or undefined. */
function smallDisk(): string | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 'waggle-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

const disk = smallDisk();
afterAll(() => {
  if (!disk) return;
  execFileSync('umount', [disk]);
  rmSync(disk, { recursive: true, force: true });
});

describe('a full disk', () => {
  it('while commits fail, settle() refuses with StoreUnavailableError instead of letting a read miss acknowledged events', async () => {
    const dataDir = tempDir('waggle-commit-fail-');
    const store = await Store.open(dataDir, { batchEvents: 10 });
    const writer = (store as unknown as { writer: { run: (sql: string, values?: unknown) => Promise<unknown> } }).writer;
    const run = writer.run.bind(writer);
    let failing = true;
    let last = '';
    writer.run = (sql, values) => {
      const after = last;
      last = sql;
      if (failing && sql === 'COMMIT' && after.includes('ingest_log_applied')) return Promise.reject(new Error('No space left on device'));
      return run(sql, values);
    };
    try {
      const events = Array.from({ length: 20 }, (_, i) => ({ time: Date.now(), dataset: 'full', sampleRate: 1, fields: { i } }));
      await store.ingest(eventsRecord(events), events);
      await expect(store.settle()).rejects.toThrow(StoreUnavailableError);
      await expect(store.settle()).rejects.toThrow(/WAGGLE_BACKEND_COMMIT_FAILING: 20 acknowledged event\(s\) are not in DuckDB yet \(.*No space left on device/);
      failing = false;
      await new Promise((r) => setTimeout(r, 1200));
      await store.settle();
      const n = (await store.reader().runAndReadAll("SELECT count(*) AS n FROM events WHERE dataset = 'full'")).getRowObjectsJS()[0]!.n;
      expect(n).toBe(20n);
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it.runIf(disk)('on a real full disk: 503s logged, reads refuse rather than miss events, and after space is freed every acknowledged event is there', async () => {
    const filler = path.join(disk!, 'filler');
    writeFileSync(filler, Buffer.alloc(14 * 1024 * 1024));
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }): void => void warnings.push(`${w.code}: ${w.message}`);
    process.on('warning', onWarning);
    const backend = await startBackend({ port: 0, dataDir: path.join(disk!, 'data') });
    try {
      let acknowledged = 0;
      let refused: { status: number; body: any } | undefined;
      for (let i = 0; i < 400 && !refused; i++) {
        const res = await postJson(`${backend.url}/1/batch/full`, Array.from({ length: 100 }, (_, j) => ({ data: { i, j, pad: `${'x'.repeat(2000)}${i}` } })));
        if (res.status === 200) acknowledged += 100;
        else refused = res;
      }
      expect(refused?.status).toBe(503);
      expect(refused?.body.error).toMatch(/^WAGGLE_BACKEND_(LOG_WRITE_FAILED|COMMIT_FAILING): .*(no space left|No space left)/i);
      expect(warnings.some((w) => /^WAGGLE_BACKEND_(LOG_WRITE_FAILED|COMMIT_FAILING): /.test(w))).toBe(true);
      const query = () => postJson(`${backend.url}/api/query/full`, { time_range: 600 });
      const during = await query();
      // Either everything acknowledged is already in DuckDB, or the read says it would miss some: never a short count.
      if (during.status === 200) expect(during.body.data.results[0].data.COUNT).toBe(acknowledged);
      else expect(during.body.error).toMatch(/^WAGGLE_BACKEND_COMMIT_FAILING: \d+ acknowledged event/);
      rmSync(filler);
      await new Promise((r) => setTimeout(r, 1500));
      const after = await query();
      expect(after.status).toBe(200);
      expect(after.body.data.results[0].data.COUNT).toBe(acknowledged);
      expect((await postJson(`${backend.url}/1/batch/full`, [{ data: { again: true } }])).status).toBe(200);
    } finally {
      process.off('warning', onWarning);
      await backend.close();
    }
  });

  it.skipIf(disk)('the real full-disk test needs a tmpfs mount (root)', () => {
    console.warn('skipping the real full-disk test: mount -t tmpfs is not permitted here');
  });
});

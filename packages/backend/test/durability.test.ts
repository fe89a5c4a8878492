import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTraceRequest } from '@waggle/otlp';
import { afterAll, describe, expect, it } from 'vitest';
import { runQuery, tempDir } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.join(here, 'fixtures', 'serve.mjs');
const built = path.join(here, '..', 'dist', 'index.js');

function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\S+)/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.once('exit', (code) => reject(new Error(`backend exited early with ${code}`)));
  });
}

describe('durability', () => {
  const dataDir = tempDir('waggle-durability-');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.runIf(existsSync(built))('every span acknowledged with 2xx is queryable after kill -9 and restart', async () => {
    const first = await startChild(dataDir);
    const acknowledged: string[] = [];
    let sent = 0;
    let stop = false;
    const sender = async (): Promise<void> => {
      // oxlint-disable-next-line no-unmodified-loop-condition -- the test sets stop while this sender awaits
      while (!stop && sent < 8000) {
        const spans = Array.from({ length: 25 }, () => makeSpan());
        sent += spans.length;
        try {
          const res = await fetch(`${first.url}/v1/traces`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-protobuf' },
            body: encodeTraceRequest(traces('durable', spans), 'protobuf'),
          });
          await res.arrayBuffer();
          if (res.status === 200) acknowledged.push(...spans.map((s) => s.spanId));
        } catch {
          return; // the backend was killed mid-request: this batch was never acknowledged
        }
      }
    };
    const senders = [sender(), sender(), sender()];
    // Kill while requests are in flight, once a good number are acknowledged.
    // oxlint-disable-next-line no-unmodified-loop-condition -- the senders advance both while this loop sleeps
    while (acknowledged.length < 1500 && sent < 8000) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(senders);
    await new Promise((r) => first.child.exitCode !== null || first.child.signalCode !== null ? r(undefined) : first.child.once('exit', r));
    expect(acknowledged.length).toBeGreaterThanOrEqual(1500);

    const second = await startChild(dataDir);
    try {
      const data = await runQuery(
        second.url,
        'durable',
        { time_range: 7200, breakdowns: ['trace.span_id'], calculations: [{ op: 'COUNT' }] },
        {},
        { disable_series: true, limit: 10_000 },
      );
      const stored = new Set(data.results.map((r) => r.data['trace.span_id'] as string));
      const missing = acknowledged.filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
    }
  });

  it.skipIf(existsSync(built))('durability test needs the package built (npm run build)', () => {
    if (process.env.CI === 'true') throw new Error('dist/index.js missing: build @waggle/backend before testing');
    console.warn('skipping the durability test: run `npx tsc -p tsconfig.build.json` first');
  });
});

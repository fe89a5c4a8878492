// Issue 20, must show 1: one request with very many keys cannot take the backend down.
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
// @ts-expect-error plain ESM fixture shared with bench/wide-events.mjs
import { wideEventsScenario } from './fixtures/wide-events.mjs';

const built = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

interface Case {
  name: string;
  status: number;
  body: string;
  maxQueryMs: number;
  queries: number;
  maxRssMiB: number;
}

describe('wide events: 1,000 and 5,000 keys, a span with 10^6 attributes', () => {
  const dataDir = tempDir('waggle-wide-');
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it.runIf(existsSync(built))(
    'the backend keeps answering queries (no stall) under 1 GiB, and restarts on the same data within 20 s',
    async () => {
      const result = (await wideEventsScenario(dataDir)) as { cases: Case[]; restartMs: number; wideEventsAfterRestart: number };
      const [thousand, fiveThousand, otlp] = result.cases;
      console.log(
        result.cases.map((c) => `${c.name}: HTTP ${c.status}, slowest of ${c.queries} queries ${c.maxQueryMs.toFixed(0)} ms, peak RSS ${c.maxRssMiB.toFixed(0)} MiB`).join('\n'),
        `\nrestart listening after ${result.restartMs.toFixed(0)} ms`,
      );
      expect(thousand!.status).toBe(200);
      expect(JSON.parse(thousand!.body)).toEqual([{ status: 202 }]);
      expect(fiveThousand!.status).toBe(200);
      expect(JSON.parse(fiveThousand!.body)[0].error).toMatch(/^Event has too many columns\./);
      expect(otlp!.status).toBe(200);
      for (const c of result.cases) {
        expect(c.queries, c.name).toBeGreaterThan(3);
        // Main stalled reads for 8.8 s on the 1,000-key event and hung on the 5,000-key one. The sub-second figure is a
        // performance goal, measured quietly by bench/wide-events.mjs (bench/RESULTS.md); here only "no stall" is checked,
        // with room for a loaded CI machine.
        expect(c.maxQueryMs, c.name).toBeLessThan(5000);
        expect(c.maxRssMiB, c.name).toBeLessThan(1024);
      }
      expect(result.restartMs).toBeLessThan(20_000);
      expect(result.wideEventsAfterRestart).toBe(1);
    },
    180_000,
  );

  it.skipIf(existsSync(built))('the wide-event test needs the package built (npm run build)', () => {
    if (process.env.CI === 'true') throw new Error('dist/index.js missing: build @waggle/backend before testing');
    console.warn('skipping the wide-event test: run `npx tsc -p tsconfig.build.json` first');
  });
});

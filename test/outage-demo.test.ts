// The outage replay in a short mode, as a new user runs it (`npm run demo`, embedded PostgreSQL, no
// DATABASE_URL): each scenario's cause must be found by the command the demo prints.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../examples/outage/demo.mjs', import.meta.url));

interface Answer { command: string; code: number; data: any }
interface Report {
  scenarios: Record<string, Answer[]>;
  ports: { proxy: number; api: number; legacy: number };
  apiRestarts: number;
  error?: string;
}

let dir: string;
let report: Report;
let output = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'waggle-demo-test-'));
  const reportFile = join(dir, 'report.json');
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.DATABASE_URL;
  output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [DEMO, '--duration', '6', '--port', '0', '--report', reportFile], { env, timeout: 420_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`demo failed (${error.message}):\n${stdout.slice(-4000)}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
  report = JSON.parse(await readFile(reportFile, 'utf8')) as Report;
}, 480_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rows = (answer: Answer | undefined) => (answer?.data?.data?.results ?? []).map((r: { data: Record<string, unknown> }) => r.data);

describe('npm run demo (short mode, embedded PostgreSQL)', () => {
  it('prints each command with its answer and ends saying how to keep the UI running', () => {
    expect(report.error).toBeUndefined();
    expect(output).toMatch(/\$ waggle bubbleup --dataset api --selection 'duration_ms > 80'/);
    expect(output).toMatch(/\$ waggle gaps --since \d+s/);
    expect(output).toMatch(/The backend and UI \(http:\/\/127\.0\.0\.1:\d+\/\) stop with the demo; .*npm run demo -- --keep-running/);
    expect(output).toMatch(/Incident: Replay of the 4 Nov 2019 outage/);
  });

  it('BubbleUp of slow requests puts the deep-cloning release among its first three columns', () => {
    const bubbleup = report.scenarios.release!.find((a) => a.command.startsWith('waggle bubbleup'))!;
    // The release's own columns, or its version. Query time (rollup.db.duration_ms) often ranks with them: the clone
    // blocks the event loop while queries are in flight, so it separates the slow requests about as well.
    const top = bubbleup.data.columns.slice(0, 3).map((c: { column: string }) => c.column);
    expect(top.some((c: string) => ['service.version', 'log.duration_ms', 'log.bytes'].includes(c)), top.join(', ')).toBe(true);
    const version = bubbleup.data.columns.find((c: { column: string }) => c.column === 'service.version');
    const v42 = version.values.find((v: { value: string }) => v.value === 'v42');
    expect(v42.selection).toBeGreaterThan(0.8);
    expect(v42.baseline).toBeLessThan(0.5);
  });

  it('the release shows memory pressure on v42', () => {
    const pressure = rows(report.scenarios.release!.find((a) => a.command.includes('memory_pressure')));
    expect(pressure.find((r: Record<string, unknown>) => r['service.version'] === 'v42')?.COUNT).toBeGreaterThan(0);
  });

  it('the proxies\' retry storm raises retry_storm events and amplification above 2', () => {
    const [storm, amplification] = report.scenarios['retry-storm']!;
    expect(rows(storm).find((r: Record<string, unknown>) => r['service.name'] === 'proxy')?.COUNT).toBeGreaterThan(0);
    expect(rows(amplification)[0]['MAX(retry.amplification)']).toBeGreaterThan(2);
  });

  it('Sequelize pool timeouts crash the API into a flagged crash loop', () => {
    const [starts, errors] = report.scenarios['crash-loop']!;
    expect(rows(starts).find((r: Record<string, unknown>) => r['process.crash_loop'] === true)?.COUNT).toBeGreaterThan(0);
    expect(rows(errors).find((r: Record<string, unknown>) => r['error.type'] === 'pool_acquire_timeout')?.COUNT).toBeGreaterThan(0);
  });

  it('the uninstrumented legacy hop is reported, then gone once legacy is instrumented', () => {
    const legacyPeer = `127.0.0.1:${report.ports.legacy}`;
    const before = report.scenarios['gap-before']![0]!.data;
    expect(before.missingHops).toContainEqual(expect.objectContaining({ service: 'api', peer: legacyPeer, kind: 'client' }));
    const after = report.scenarios['gap-after']![0]!.data;
    expect(after.missingHops.filter((h: { peer: string }) => h.peer === legacyPeer)).toEqual([]);
    expect(after.edges).toContainEqual(expect.objectContaining({ from: 'api', to: 'legacy', peer: legacyPeer, coveragePercent: 100 }));
  });
});

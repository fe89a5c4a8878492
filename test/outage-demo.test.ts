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
interface Webhook { receivedAt: number; status: 'TRIGGERED' | 'OK'; name: string; [key: string]: unknown }
interface Report {
  scenarios: Record<string, Answer[]>;
  ports: { proxy: number; api: number; canary: number; legacy: number };
  apiRestarts: number;
  rollout?: 'halted' | 'completed';
  retryStorm?: { start: number; end: number };
  webhooks: Webhook[];
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
    expect(output).toMatch(/\$ waggle trace [0-9a-f]{32}/);
    expect(output).toMatch(/The backend and UI \(http:\/\/127\.0\.0\.1:\d+\/\) stop with the demo; .*npm run demo -- --keep-running/);
    expect(output).toMatch(/Incident: Replay of the 4 Nov 2019 outage/);
  });

  it('BubbleUp of slow requests ranks the canary release among its first columns', () => {
    const bubbleup = report.scenarios.release!.find((a) => a.command.startsWith('waggle bubbleup'))!;
    // v41 keeps serving beside the canary, so the canary process's own gauges (event loop, heap, RSS) separate the slow
    // requests as well as the version does, and rank with it.
    // On a loaded machine some v41 requests are slow too, and v41 serves far more of them, so v42 is over-represented
    // among the slow requests rather than all of them; release compare (below) compares the versions directly.
    const top = bubbleup.data.columns.slice(0, 10).map((c: { column: string }) => c.column);
    expect(top, top.join(', ')).toContain('service.version');
    const version = bubbleup.data.columns.find((c: { column: string }) => c.column === 'service.version');
    const v42 = version.values.find((v: { value: string }) => v.value === 'v42');
    expect(v42.selection).toBeGreaterThan(0.1);
    expect(v42.selection).toBeGreaterThan(3 * v42.baseline);
  });

  it('stages the release: release compare fails the canary on p99, heap and logger time, and the rollout halts', () => {
    const gate = report.scenarios.release!.filter((a) => a.command.startsWith('waggle release compare')).at(-1)!;
    expect(gate.command).toMatch(/^waggle release compare --dataset api --baseline v41 --candidate v42 --since \d+s$/);
    expect(gate.code).toBe(1);
    expect(gate.data.verdict).toBe('fail');
    const broken = gate.data.rules.filter((r: { status: string }) => r.status === 'broken').map((r: { metric: string }) => r.metric);
    expect(broken).toEqual(expect.arrayContaining(['p99', 'heap_ratio', 'log_ms']));
    // The logger is among the top differences: of the metrics, and of what sets v42's slow requests apart.
    expect(gate.data.largestChanges.slice(0, 3).map((c: { metric: string }) => c.metric)).toContain('log_ms');
    const columns = gate.data.bubbleup.result.columns.slice(0, 5).map((c: { column: string }) => c.column);
    expect(columns.some((c: string) => c === 'log.bytes' || c === 'log.duration_ms'), columns.join(', ')).toBe(true);
    expect(output).toMatch(/FAIL: v42 regressed on p99 .*heap_ratio .*log_ms .*— halt the rollout\./);
    expect(report.rollout).toBe('halted');
    expect(output).toMatch(/deploy step: v42 failed the release check — rollout halted at the canary/);
    // The SDK recorded the canary's deploy and its rollback, one marker each.
    const markers = report.scenarios.release!.find((a) => a.command.startsWith('waggle marker --list'))!.data;
    expect(markers.filter((m: { type: string }) => m.type === 'deploy').map((m: { message: string }) => m.message)).toEqual(['api: v41 → v42', 'api: v42 → v41']);
  });

  it('the retry-storm trigger fires during the storm, pages its webhook, is in the timeline, and resolves', () => {
    const { start, end } = report.retryStorm!;
    // retry_storm events begin once the proxy's 10 s amplification window is mostly storm; the trigger, evaluated
    // every 2 s, pages during the storm, or was already firing (the canary's rollback restart made the proxy retry
    // too) and still is when the storm ends. The backend's own test times the firing exactly.
    const stateAt = (t: number) => report.webhooks.filter((w) => w.receivedAt <= t).at(-1)?.status;
    const firedDuring = report.webhooks.some((w) => w.status === 'TRIGGERED' && w.receivedAt >= start && w.receivedAt <= end + 4000);
    expect(firedDuring || stateAt(end) === 'TRIGGERED', JSON.stringify(report.webhooks.map((w) => [w.status, w.receivedAt - start]))).toBe(true);
    expect(report.webhooks.every((w) => w.name === 'retry storm')).toBe(true);
    expect(report.webhooks.some((w) => w.status === 'OK' && w.receivedAt > end)).toBe(true);
    expect(output).toMatch(/pager: Triggered: retry storm — Currently greater than threshold value \(50\) for COUNT = \d+/);
    expect(output).toMatch(/^\s+\d\d:\d\d:\d\d\s+trigger "retry storm" fired \(proxy\)\s+COUNT = \d+, threshold > 50$/m);
    expect(output).toMatch(/^\s+\d\d:\d\d:\d\d\s+trigger "retry storm" resolved \(proxy\)/m);
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

  it('the first gaps report lists only legacy as an uninstrumented hop; the crash-looping API\'s refused calls are callee unreachable', () => {
    const legacyPeer = `localhost:${report.ports.legacy}`;
    const before = report.scenarios['gap-before']![0]!.data;
    expect(before.uninstrumentedHops).toEqual([expect.objectContaining({ service: 'api', peer: legacyPeer, kind: 'client' })]);
    expect(before.calleeUnreachable).toContainEqual(expect.objectContaining({ service: 'proxy', peer: `localhost:${report.ports.api}`, callee: 'api', reason: 'refused' }));
    expect(before.edges).toContainEqual(expect.objectContaining({ from: 'api', to: legacyPeer, coveragePercent: 0 }));
    // Every library the demo uses is one Waggle traces; every class is in the report.
    expect(before.untracedLibraries).toEqual([]);
    for (const key of ['contextLost', 'lostCalleeSpans', 'orphanSpans', 'silentServices']) expect(Array.isArray(before[key]), key).toBe(true);
    const after = report.scenarios['gap-after']![0]!.data;
    expect(after.uninstrumentedHops).toEqual([]);
    expect(after.edges).toContainEqual(expect.objectContaining({ from: 'api', to: 'legacy', peer: legacyPeer, coveragePercent: 100 }));
  });

  it('waggle trace on an order shows the worker\'s job, a trace of its own, inline under the span that queued it', () => {
    const [linked] = report.scenarios['linked-trace']!;
    expect(output).toMatch(/⤷ linked trace [0-9a-f]{32} — waited [\d.]+ ms/);
    const story = linked!.data.story as Array<{ traceId: string; spanId: string; service: string; name: string; depth: number; join?: { toSpanId: string } }>;
    const send = story.findIndex((r) => r.service === 'api' && r.name === 'send emails');
    const job = story.findIndex((r) => r.service === 'worker' && r.name === 'process emails');
    expect(send).toBeGreaterThanOrEqual(0);
    expect(job).toBeGreaterThan(send);
    expect(story[job]!.traceId).not.toBe(linked!.data.traceId);
    expect(story[job]!.depth).toBe(story[send]!.depth + 1);
    expect(story[job]!.join?.toSpanId).toBe(story[send]!.spanId);
    // Between them only the send's own children: the job is under the producer span.
    expect(story.slice(send + 1, job).every((r) => r.depth > story[send]!.depth)).toBe(true);
  });
});

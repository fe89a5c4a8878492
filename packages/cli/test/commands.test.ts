import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '@waggle/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentScenario, send, type Scenario } from './fixtures.js';
import { runCli } from './run-cli.js';

const KEY = 'cli-test-key-0123456789abcdef0123';
let backend: Backend;
let dataDir: string;
let scenario: Scenario;
let local: Record<string, string>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-cli-'));
  backend = await startBackend({ port: 0, dataDir, keys: [KEY] });
  scenario = incidentScenario();
  await send(backend.url, scenario.data, { 'x-honeycomb-team': KEY });
  local = { WAGGLE_URL: backend.url, WAGGLE_API_KEY: KEY, WAGGLE_INCIDENT_DIR: join(dataDir, 'incidents') };
});

afterAll(async () => {
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('waggle query against a real backend', () => {
  it('prints sample-weighted counts and P99 per route, as a table and as --json', async () => {
    const args = ['query', '--dataset', 'api', '--calc', 'COUNT', '--calc', 'P99(duration_ms)', '--where', 'span.kind = server', '--group-by', 'http.route', '--since', '30m'];
    const json = await runCli([...args, '--json'], local);
    expect(json.code).toBe(0);
    const rows = JSON.parse(json.stdout).data.results.map((r: { data: Record<string, number | string> }) => r.data);
    const byRoute = Object.fromEntries(rows.map((r: Record<string, number | string>) => [r['http.route'], r]));
    expect(byRoute['/users/:id'].COUNT).toBe(scenario.counts['/users/:id']);
    expect(byRoute['/orders'].COUNT).toBe(scenario.counts['/orders']);
    // 10 of 120 /users/:id requests took 1000–1010 ms: the 99th percentile is one of them.
    const p99 = byRoute['/users/:id']['P99(duration_ms)'] as number;
    expect(p99).toBeGreaterThanOrEqual(1000);
    expect(p99).toBeLessThan(1011);
    expect(byRoute['/orders']['P99(duration_ms)']).toBe(20);

    const table = await runCli(args, local);
    expect(table.code).toBe(0);
    const usersLine = table.stdout.split('\n').find((l) => l.startsWith('/users/:id'))!;
    expect(usersLine).toMatch(/^\/users\/:id\s+120\s+/);
    expect(usersLine).toContain(p99.toFixed(1));
    expect(table.stdout.split('\n').find((l) => l.startsWith('/orders'))).toMatch(/^\/orders\s+80\s+20\b/);
    expect(table.stdout).toMatch(/trend COUNT/);
  });

  it('draws a HEATMAP with Unicode blocks', async () => {
    const result = await runCli(['query', '--dataset', 'api', '--calc', 'HEATMAP(duration_ms)', '--where', 'http.route = /users/:id', '--since', '30m'], local);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('HEATMAP(duration_ms) — all');
    expect(result.stdout).toMatch(/[░▒▓█]/);
  });

  it('the Honeycomb target runs the same create-query / create-result / poll flow and prints the same answer', async () => {
    // An absolute range, so both runs cover exactly the same time buckets.
    const from = new Date(Date.now() - 30 * 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const args = ['query', '--dataset', 'api', '--calc', 'COUNT', '--group-by', 'http.route', '--where', 'span.kind = server', '--from', from, '--to', to];
    const viaLocal = await runCli(args, local);
    const viaHoneycomb = await runCli([...args, '--target', 'honeycomb'], { HONEYCOMB_API_KEY: KEY, HONEYCOMB_API_ENDPOINT: backend.url, WAGGLE_INCIDENT_DIR: local.WAGGLE_INCIDENT_DIR! });
    expect(viaHoneycomb.code).toBe(0);
    expect(viaLocal.code).toBe(0);
    expect(viaHoneycomb.stdout).toBe(viaLocal.stdout);
    expect(viaHoneycomb.stdout).toMatch(/\/users\/:id\s+120/);
  });

  it('a wrong key is a clear failure (exit 1), a malformed --where a usage error (exit 2)', async () => {
    const bad = await runCli(['query', '--calc', 'COUNT'], { ...local, WAGGLE_API_KEY: 'wrong' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/rejected the API key \(WAGGLE_API_KEY\): 401/);
    const usage = await runCli(['query', '--where', 'duration_ms'], local);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--where "duration_ms": expected "COLUMN OP VALUE"/);
    const noKey = await runCli(['query', '--target', 'honeycomb'], { HONEYCOMB_API_KEY: '' });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/needs a configuration key in HONEYCOMB_API_KEY/);
  });
});

describe('waggle trace, bubbleup, gaps and marker against a real backend', () => {
  it('trace prints every span of the trace on a shared axis with the error highlighted', async () => {
    const result = await runCli(['trace', scenario.fullTraceId], local);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toContain(`trace ${scenario.fullTraceId} — 4 spans, 2 services`);
    expect(lines[0]).toContain('1 error');
    const spanLines = lines.slice(2);
    expect(spanLines.map((l) => l.split(/\s{2,}/)[0])).toEqual(['proxy', 'proxy', 'api', 'api']);
    expect(spanLines[3]).toContain('SELECT users');
    expect(spanLines[3]).toContain('✗ error');
    const json = JSON.parse((await runCli(['trace', scenario.fullTraceId, '--json'], local)).stdout);
    expect(json.spans.map((s: { depth: number }) => s.depth)).toEqual([0, 1, 2, 3]);
  });

  it('trace --target honeycomb sends only specs Honeycomb accepts (checked by this backend, which refuses what Honeycomb refuses)', async () => {
    const honeycomb = { HONEYCOMB_API_KEY: KEY, HONEYCOMB_API_ENDPOINT: backend.url, WAGGLE_INCIDENT_DIR: local.WAGGLE_INCIDENT_DIR! };
    // The Honeycomb path breaks down by the link columns too; this backend refuses columns it has never seen.
    const linkColumns = await fetch(`${backend.url}/1/batch/links`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-honeycomb-team': KEY },
      body: JSON.stringify([{ data: { 'trace.link.trace_id': 'x', 'trace.link.span_id': 'y' } }]),
    });
    expect(linkColumns.status).toBe(200);
    const result = await runCli(['trace', scenario.fullTraceId, '--target', 'honeycomb', '--json'], honeycomb);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.spans.map((s: { name: string; depth: number }) => [s.depth, s.name])).toEqual(
      JSON.parse((await runCli(['trace', scenario.fullTraceId, '--json'], local)).stdout).spans.map((s: { name: string; depth: number }) => [s.depth, s.name]),
    );
  });

  it('bubbleup ranks the planted release first for the slow requests', async () => {
    const result = await runCli(['bubbleup', '--dataset', 'api', '--selection', 'duration_ms > 500', '--where', 'span.kind = server', '--since', '30m', '--json'], local);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body.selection.count).toBe(10);
    expect(body.columns[0].column).toBe('service.version');
    const text = await runCli(['bubbleup', '--dataset', 'api', '--selection', 'duration_ms > 500', '--where', 'span.kind = server', '--since', '30m'], local);
    expect(text.stdout).toMatch(/#1 service\.version/);
    expect(text.stdout).toMatch(/v42\s+selection .*100\.0%\s+baseline .*0\.0%/);
  });

  it('gaps names the uninstrumented hop and reports full coverage on the traced edge', async () => {
    const result = await runCli(['gaps', '--since', '30m', '--json'], local);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.missingHops).toEqual([expect.objectContaining({ service: 'api', peer: 'legacy:8080', kind: 'client', count: 40 })]);
    expect(report.edges).toContainEqual(expect.objectContaining({ from: 'proxy', to: 'api', calls: 20, covered: 20, coveragePercent: 100 }));
    const text = await runCli(['gaps', '--since', '30m'], local);
    expect(text.stdout).toMatch(/Uninstrumented hops/);
    expect(text.stdout).toMatch(/api\s+legacy:8080\s+client\s+40/);
  });

  it('marker adds a deploy marker that --list shows', async () => {
    const add = await runCli(['marker', 'deploy api v42', '--type', 'deploy', '--dataset', 'api'], local);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/\[deploy\] deploy api v42/);
    const list = JSON.parse((await runCli(['marker', '--list', '--dataset', 'api', '--json'], local)).stdout);
    expect(list).toContainEqual(expect.objectContaining({ message: 'deploy api v42', type: 'deploy' }));
  });

  it('marker --delete removes a marker --list showed', async () => {
    await runCli(['marker', 'canary api v43', '--type', 'canary', '--dataset', 'api'], local);
    const table = (await runCli(['marker', '--list', '--dataset', 'api'], local)).stdout;
    const id = /^(\S+)\s+\S+\s+canary\s+canary api v43/m.exec(table)?.[1];
    expect(id).toMatch(/^[0-9a-f]+$/);
    const del = await runCli(['marker', '--delete', id!, '--dataset', 'api'], local);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe(`marker ${id} deleted from api: [canary] canary api v43\n`);
    const after = JSON.parse((await runCli(['marker', '--list', '--dataset', 'api', '--json'], local)).stdout);
    expect(after.map((m: { id: string }) => m.id)).not.toContain(id);
    const again = await runCli(['marker', '--delete', id!, '--dataset', 'api'], local);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/404/);
  });

  it('while an incident is open, each command is logged with a one-line summary of its answer', async () => {
    const env = { ...local, WAGGLE_INCIDENT_DIR: join(dataDir, 'incident-summaries') };
    await runCli(['incident', 'start', 'slow users page'], env);
    await runCli(['bubbleup', '--dataset', 'api', '--selection', 'duration_ms > 500', '--since', '30m'], env);
    await runCli(['gaps', '--since', '30m'], env);
    await runCli(['incident', 'end'], env);
    const { entries } = JSON.parse((await runCli(['incident', 'timeline', '--json'], env)).stdout);
    const commands = entries.filter((e: { kind: string }) => e.kind === 'command');
    expect(commands[0].text).toBe("waggle bubbleup --dataset api --selection 'duration_ms > 500' --since 30m");
    expect(commands[0].summary).toMatch(/^top column service\.version .*: v42 in 100\.0% of selection/);
    expect(commands[1].summary).toBe('1 uninstrumented hop(s): api→legacy:8080');
  });
});

// `waggle trigger add|list|rm` against a real backend, the request it sends to Honeycomb, and trigger entries in
// the incident timeline.
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncidentLog, startBackend, type Backend } from '@waggle/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

let backend: Backend;
let dataDir: string;
let env: Record<string, string>;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-trigger-'));
  backend = await startBackend({ port: 0, dataDir, triggers: { periodSeconds: 1, log: () => {} } });
  env = { WAGGLE_URL: backend.url, WAGGLE_INCIDENT_DIR: join(dataDir, 'incidents') };
  const res = await fetch(`${backend.url}/1/batch/proxy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ data: { name: 'retry_storm' } }]) });
  expect(res.status).toBe(200);
});

afterAll(async () => {
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('waggle trigger', () => {
  it('adds a trigger, lists it with its state and last value, and removes it', async () => {
    const add = await runCli(['trigger', 'add', 'retry storm', '--dataset', 'proxy', '--where', 'name = retry_storm', '--threshold', '> 50', '--frequency', '1m', '--webhook', 'http://127.0.0.1:9/hook'], env);
    expect(add.code, add.stderr).toBe(0);
    const id = /^trigger (\S+) added to proxy: "retry storm" when COUNT where name = retry_storm > 50, every 1m$/m.exec(add.stdout)?.[1];
    expect(id).toBeTruthy();
    const [stored] = (await (await fetch(`${backend.url}/1/triggers/proxy`)).json()) as any[];
    expect(stored).toMatchObject({
      id,
      frequency: 60,
      threshold: { op: '>', value: 50 },
      query: { calculations: [{ op: 'COUNT' }], filters: [{ column: 'name', op: '=', value: 'retry_storm' }], time_range: 60 },
      recipients: [{ type: 'webhook', target: 'http://127.0.0.1:9/hook' }],
    });

    // Evaluated every second here (over the last second): a trickle of retry_storm events stays under the threshold.
    const trickle = () => fetch(`${backend.url}/1/batch/proxy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ data: { name: 'retry_storm' } }]) });
    let list = await runCli(['trigger', 'list'], env);
    for (let i = 0; i < 50 && !/\sok\s+[1-9]\d*\s+\d\d:\d\d:\d\d\s*$/m.test(list.stdout); i++) {
      await trickle();
      list = await runCli(['trigger', 'list'], env);
    }
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+retry storm\\s+proxy\\s+COUNT where name = retry_storm > 50\\s+1m\\s+ok\\s+[1-9]\\d?\\s+\\d\\d:\\d\\d:\\d\\d$`, 'm'));
    const perDataset = JSON.parse((await runCli(['trigger', 'list', '--dataset', 'proxy', '--json'], env)).stdout);
    expect(perDataset.map((r: { trigger: { id: string } }) => r.trigger.id)).toEqual([id]);

    const removed = await runCli(['trigger', 'rm', id!], env);
    expect(removed.code).toBe(0);
    expect(removed.stdout).toBe(`trigger ${id} removed from proxy\n`);
    expect((await runCli(['trigger', 'list'], env)).stdout).toBe('no triggers\n');
  });

  it('rejects what the API would reject with the API\'s message, and bad flags with exit 2', async () => {
    const bad = await runCli(['trigger', 'add', 'x', '--dataset', 'proxy', '--threshold', '> 5', '--frequency', '90s'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/answered 400 .*frequency: must be a number of seconds divisible by 60, from 60 to 86400/);
    const threshold = await runCli(['trigger', 'add', 'x', '--dataset', 'proxy', '--threshold', '== 5'], env);
    expect(threshold.code).toBe(2);
    expect(threshold.stderr).toMatch(/--threshold "== 5": expected "OP NUMBER" with OP one of > >= < <=/);
    expect((await runCli(['trigger', 'add', 'x', '--threshold', '> 5'], env)).stderr).toMatch(/--dataset is required/);
    expect((await runCli(['trigger', 'rm', 'nope'], env)).stderr).toMatch(/no trigger "nope" on the local backend/);
  });

  it('sends Honeycomb the documented create request with --target honeycomb', async () => {
    const seen: Array<{ method: string; url: string; team: unknown; body: any }> = [];
    const server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, team: req.headers['x-honeycomb-team'], body: text ? JSON.parse(text) : undefined });
        const body = { id: 'AeZzSoWws9G', dataset_slug: 'proxy', triggered: false, disabled: false, alert_type: 'on_change', created_at: '2026-11-26T04:00:00Z', updated_at: '2026-11-26T04:00:00Z', query_id: 'q1', ...JSON.parse(text) };
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const result = await runCli(
        ['trigger', 'add', 'slow api', '--dataset', 'proxy', '--calc', 'P99(duration_ms)', '--threshold', '>= 1000', '--frequency', '5m', '--time-range', '20m', '--recipient-id', 'rcp_1', '--target', 'honeycomb'],
        { HONEYCOMB_API_KEY: 'hcxik_fixture', HONEYCOMB_API_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(seen).toEqual([
        {
          method: 'POST',
          url: '/1/triggers/proxy',
          team: 'hcxik_fixture',
          body: {
            name: 'slow api',
            query: { calculations: [{ op: 'P99', column: 'duration_ms' }], time_range: 1200 },
            frequency: 300,
            threshold: { op: '>=', value: 1000 },
            recipients: [{ id: 'rcp_1' }],
          },
        },
      ]);
      expect(result.stdout).toBe('trigger AeZzSoWws9G added to proxy: "slow api" when P99(duration_ms) >= 1000, every 5m\n');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('shows a fired trigger in the incident timeline', async () => {
    const incidents = await mkdtemp(join(tmpdir(), 'waggle-incident-'));
    const log = new IncidentLog(incidents);
    await log.start('retry storm');
    await log.append({ kind: 'trigger', text: 'trigger "retry storm" fired (proxy)', summary: 'COUNT = 312, threshold > 50' });
    const md = await runCli(['incident', 'timeline', '--markdown'], { WAGGLE_INCIDENT_DIR: incidents });
    expect(md.stdout).toMatch(/^\| \d\d:\d\d:\d\d \| trigger "retry storm" fired \(proxy\) \| COUNT = 312, threshold > 50 \|$/m);
    await rm(incidents, { recursive: true, force: true });
  });
});

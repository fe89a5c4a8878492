// Triggers evaluated by the backend on their schedule: a retry storm fires `COUNT where name = retry_storm > 50` within
// two evaluation periods, its webhook receives Honeycomb's payload, the open incident's timeline records it, and it
// resolves once the storm is over. The period is shortened to 2 s (the trigger itself says 60 s, as Honeycomb allows).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IncidentLog, type Backend } from '../src/index.js';
import { freshBackend, postJson, request, tempDir } from './helpers.js';

const PERIOD_S = 2;

interface Delivery { at: number; token: string | undefined; body: any }

let backend: Backend;
let hook: http.Server;
let hookUrl: string;
const deliveries: Delivery[] = [];
const lines: string[] = [];
const incidents = join(tempDir('waggle-incidents-'), 'incidents');

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `perSecond` retry_storm events a second (in batches every 100 ms) until stopped. */
function storm(perSecond: number): { stop(): Promise<void> } {
  const stopped = new AbortController();
  const loop = (async () => {
    while (!stopped.signal.aborted) {
      const now = new Date().toISOString();
      const batch = Array.from({ length: perSecond / 10 }, () => ({ data: { name: 'retry_storm', 'retry.amplification': 4.2 }, time: now }));
      await postJson(`${backend.url}/1/batch/proxy`, batch);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      stopped.abort();
      await loop;
    },
  };
}

beforeAll(async () => {
  hook = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      deliveries.push({ at: Date.now(), token: req.headers['x-honeycomb-webhook-token'] as string | undefined, body: JSON.parse(text) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  backend = await freshBackend({ incidentDir: incidents, triggers: { periodSeconds: PERIOD_S, log: (l) => lines.push(l) } });
  await postJson(`${backend.url}/1/batch/proxy`, [{ data: { name: 'GET /users/:id', duration_ms: 12 } }]);
  await new IncidentLog(incidents).start('API 502s');
});

afterAll(async () => {
  await backend?.close();
  await new Promise<void>((r) => hook.close(() => r()));
});

describe('a trigger on COUNT where name = retry_storm > 50', () => {
  it('fires within two evaluation periods of a storm, notifies its webhook and the incident, and resolves after it', async () => {
    const created = await postJson(`${backend.url}/1/triggers/proxy`, {
      name: 'retry storm',
      query: { calculations: [{ op: 'COUNT' }], filters: [{ column: 'name', op: '=', value: 'retry_storm' }], time_range: 60 },
      frequency: 60,
      threshold: { op: '>', value: 50 },
      recipients: [{ type: 'webhook', target: hookUrl, details: { webhook_secret: 's3cret' } }],
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const state = async () => ((await request(`${backend.url}/api/triggers`, 'GET')).body as Array<{ trigger: any; state: any }>).find((t) => t.trigger.id === id)!;

    // Quiet traffic: evaluated, below the threshold, nothing sent.
    await until('a quiet evaluation', async () => ((await state()).state.last_evaluated_at ? true : undefined));
    expect((await state()).state.last_result.groups).toEqual([{ Group: {}, Result: 0 }]);
    expect(deliveries).toEqual([]);

    const start = Date.now();
    const traffic = storm(200);
    let fired: Delivery;
    try {
      fired = await until('the TRIGGERED webhook', () => deliveries.find((d) => d.body.status === 'TRIGGERED'));
    } finally {
      await traffic.stop();
    }
    // Two periods after the storm began at the latest (plus the scheduler's tick and the delivery itself).
    expect(fired.at - start).toBeLessThanOrEqual(2 * PERIOD_S * 1000 + 1000);
    expect(fired.token).toBe('s3cret');
    expect(fired.body).toMatchObject({
      version: 'v0.1.0',
      id,
      name: 'retry storm',
      status: 'TRIGGERED',
      summary: 'Triggered: retry storm',
      operator: 'greater than',
      threshold: 50,
      is_test: false,
    });
    expect(fired.body.result_groups_triggered[0].Result).toBeGreaterThan(50);
    expect(fired.body.description).toMatch(/^Currently greater than threshold value \(50\) for COUNT = \d+$/);
    expect((await request(`${backend.url}/1/triggers/proxy/${id}`, 'GET')).body.triggered).toBe(true);
    expect(lines.find((l) => l.startsWith('trigger "retry storm" (proxy) fired: COUNT = '))).toMatch(/, threshold > 50$/);

    const resolved = await until('the OK webhook', () => deliveries.find((d) => d.body.status === 'OK'));
    expect(resolved.body).toMatchObject({ id, status: 'OK', summary: 'Resolved: retry storm' });
    expect(resolved.body.result_groups_triggered).toEqual([]);
    expect((await request(`${backend.url}/1/triggers/proxy/${id}`, 'GET')).body.triggered).toBe(false);
    expect(deliveries.map((d) => d.body.status)).toEqual(['TRIGGERED', 'OK']);
    const s = (await state()).state;
    expect(s.deliveries).toEqual({ [created.body.recipients[0].id]: 'delivered' });
    expect(Date.parse(s.last_resolved_at)).toBeGreaterThan(Date.parse(s.last_fired_at));

    const log = new IncidentLog(incidents);
    const entries = await log.entries((await log.current())!.id);
    const triggerEntries = entries.filter((e) => e.kind === 'trigger');
    expect(triggerEntries.map((e) => e.text)).toEqual(['trigger "retry storm" fired (proxy)', 'trigger "retry storm" resolved (proxy)']);
    expect(triggerEntries[0]!.summary).toMatch(/^COUNT = \d+, threshold > 50$/);
  }, 60_000);

  it('a webhook that does not answer does not hold up evaluation or ingest', async () => {
    const silent = http.createServer(() => {}); // accepts, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const created = await postJson(`${backend.url}/1/triggers/proxy`, {
        name: 'always',
        query: { calculations: [{ op: 'COUNT' }], time_range: 60 },
        frequency: 60,
        threshold: { op: '>=', value: 0 },
        alert_type: 'on_true',
        recipients: [{ type: 'webhook', target: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/` }],
      });
      const id = created.body.id as string;
      const evaluations = async () => ((await request(`${backend.url}/api/triggers`, 'GET')).body as Array<{ trigger: any; state: any }>).find((t) => t.trigger.id === id)!.state;
      const first = await until('the first evaluation', async () => (await evaluations()).last_fired_at);
      // While the first notification still waits for its answer, ingest answers and the trigger keeps being evaluated.
      const ingest = await postJson(`${backend.url}/1/batch/proxy`, [{ data: { name: 'GET /' } }]);
      expect(ingest.status).toBe(200);
      await until('a later evaluation', async () => {
        const s = await evaluations();
        return s.last_evaluated_at > first ? true : undefined;
      });
      await request(`${backend.url}/1/triggers/proxy/${id}`, 'DELETE');
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  }, 30_000);

  it('a trigger whose query stops compiling reports the error in its state and one line; the backend keeps serving', async () => {
    const field = await postJson(`${backend.url}/1/derived_columns/proxy`, { alias: 'is_storm', expression: 'EQUALS($name, "retry_storm")' });
    expect(field.status).toBe(201);
    const created = await postJson(`${backend.url}/1/triggers/proxy`, {
      name: 'storm field',
      query: { calculations: [{ op: 'COUNT' }], filters: [{ column: 'is_storm', op: '=', value: true }], time_range: 60 },
      frequency: 60,
      threshold: { op: '>', value: 1000 },
    });
    expect(created.status).toBe(201);
    // The calculated field it filters on goes away.
    expect((await request(`${backend.url}/1/derived_columns/proxy/${field.body.id}`, 'DELETE')).status).toBe(204);
    const state = await until('the evaluation error', async () => {
      const all = (await request(`${backend.url}/api/triggers`, 'GET')).body as Array<{ trigger: any; state: any }>;
      const s = all.find((t) => t.trigger.id === created.body.id)!.state;
      return s.last_error ? s : undefined;
    });
    expect(state.last_error).toBe('query.filters[0].column: unknown column "is_storm"');
    await new Promise((r) => setTimeout(r, 2 * PERIOD_S * 1000));
    // Said once, not at every evaluation.
    expect(lines.filter((l) => l.startsWith('trigger "storm field" (proxy) could not be evaluated: '))).toEqual([
      'trigger "storm field" (proxy) could not be evaluated: query.filters[0].column: unknown column "is_storm"',
    ]);
    expect((await postJson(`${backend.url}/1/batch/proxy`, [{ data: { name: 'GET /' } }])).status).toBe(200);
    await request(`${backend.url}/1/triggers/proxy/${created.body.id}`, 'DELETE');
  });
});

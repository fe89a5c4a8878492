// Compatibility: Honeycomb's Triggers API (docs.honeycomb.io/api/triggers): each operation's request and response
// shapes, the documented defaults and limits (one calculation, no HEATMAP, no orders or limit, time_range at most a
// day and at most 4 × frequency, frequency a multiple of 60 from 60 to 86400, exceeded_limit 1-5), and that an
// update resets omitted optional fields except `disabled`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/index.js';
import { freshBackend, postJson, request, tempDir } from '../helpers.js';

/** Every field of a trigger in the documented response (List/Get/Create/Update). */
const DOCUMENTED_FIELDS = [
  'id', 'dataset_slug', 'name', 'description', 'tags', 'threshold', 'frequency', 'alert_type', 'disabled', 'triggered',
  'recipients', 'evaluation_schedule_type', 'evaluation_schedule', 'created_at', 'updated_at', 'baseline_details',
  'auto_investigate', 'query', 'query_id',
];
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const STORM = {
  name: 'retry storm',
  description: 'proxies multiply the load',
  query: { calculations: [{ op: 'COUNT' }], filters: [{ column: 'name', op: '=', value: 'retry_storm' }], time_range: 600 },
  frequency: 300,
  threshold: { op: '>', value: 50 },
  recipients: [{ type: 'webhook', target: 'http://127.0.0.1:9/hook' }],
};

let backend: Backend;
let url: string;

beforeAll(async () => {
  backend = await freshBackend();
  url = backend.url;
  const now = new Date().toISOString();
  for (const dataset of ['proxy', 'api']) {
    expect((await postJson(`${url}/1/batch/${dataset}`, [{ data: { name: 'retry_storm', duration_ms: 3 }, time: now }])).status).toBe(200);
  }
});

afterAll(async () => {
  await backend?.close();
});

describe('POST /1/triggers/:dataset (create)', () => {
  it('answers 201 with the trigger in the documented shape, defaults filled in', async () => {
    const { status, body } = await postJson(`${url}/1/triggers/proxy`, STORM);
    expect(status).toBe(201);
    for (const key of Object.keys(body)) expect(DOCUMENTED_FIELDS, key).toContain(key);
    expect(body).toMatchObject({
      dataset_slug: 'proxy',
      name: 'retry storm',
      description: 'proxies multiply the load',
      tags: [],
      threshold: { op: '>', value: 50, exceeded_limit: 1 },
      frequency: 300,
      alert_type: 'on_change',
      disabled: false,
      triggered: false,
      evaluation_schedule_type: 'frequency',
      query: STORM.query,
    });
    expect(body.id).toMatch(/^[\w-]{6,}$/);
    expect(body.recipients).toEqual([{ id: expect.any(String), type: 'webhook', target: 'http://127.0.0.1:9/hook' }]);
    expect(body.created_at).toMatch(ISO);
    expect(body.updated_at).toBe(body.created_at);
    // The inline query is saved as a query too, as Honeycomb does: query_id reads it back.
    const query = await request(`${url}/1/queries/proxy/${body.query_id}`, 'GET');
    expect(query.status).toBe(200);
    expect(query.body).toMatchObject({ id: body.query_id, ...STORM.query });
  });

  it('defaults frequency to 900 s and the query time_range to 7200 s, which a 900 s trigger cannot watch', async () => {
    const { time_range: _omit, ...query } = STORM.query;
    const noRange = await postJson(`${url}/1/triggers/proxy`, { ...STORM, query, frequency: undefined });
    expect(noRange.status).toBe(400);
    expect(noRange.body.error).toBe('query.time_range: 7200 s (the default) is more than 4 × frequency (900 s); set a shorter time_range or a larger frequency');
    const ok = await postJson(`${url}/1/triggers/proxy`, { ...STORM, query: { ...query, time_range: 3600 }, frequency: undefined });
    expect(ok.status).toBe(201);
    expect(ok.body.frequency).toBe(900);
  });

  it('accepts a saved query by query_id, and not both query and query_id', async () => {
    const saved = await postJson(`${url}/1/queries/proxy`, { calculations: [{ op: 'P99', column: 'duration_ms' }], time_range: 300 });
    expect(saved.status).toBe(200);
    const byId = await postJson(`${url}/1/triggers/proxy`, { name: 'slow', query_id: saved.body.id, frequency: 300, threshold: { op: '>=', value: 1000 } });
    expect(byId.status).toBe(201);
    expect(byId.body.query_id).toBe(saved.body.id);
    expect(byId.body.query).toEqual({ calculations: [{ op: 'P99', column: 'duration_ms' }], time_range: 300 });
    const both = await postJson(`${url}/1/triggers/proxy`, { ...STORM, query_id: saved.body.id });
    expect(both.status).toBe(400);
    expect(both.body.error).toMatch(/^query: give either query .* or query_id/);
  });

  it('keeps an evaluation window, tags, alert_type on_true and exceeded_limit as given', async () => {
    const { status, body } = await postJson(`${url}/1/triggers/proxy`, {
      ...STORM,
      alert_type: 'on_true',
      tags: [{ key: 'team', value: 'edge' }],
      threshold: { op: '>=', value: 10, exceeded_limit: 3 },
      evaluation_schedule_type: 'window',
      evaluation_schedule: { window: { days_of_week: ['monday', 'friday'], start_time: '22:00', end_time: '06:00' } },
    });
    expect(status).toBe(201);
    expect(body).toMatchObject({
      alert_type: 'on_true',
      tags: [{ key: 'team', value: 'edge' }],
      threshold: { op: '>=', value: 10, exceeded_limit: 3 },
      evaluation_schedule_type: 'window',
      evaluation_schedule: { window: { days_of_week: ['monday', 'friday'], start_time: '22:00', end_time: '06:00' } },
    });
  });

  it('reuses an existing recipient named by id, and creates environment-wide triggers on __all__', async () => {
    const first = await postJson(`${url}/1/triggers/proxy`, STORM);
    const recipientId = first.body.recipients[0].id;
    const second = await postJson(`${url}/1/triggers/__all__`, { ...STORM, recipients: [{ id: recipientId }] });
    expect(second.status).toBe(201);
    expect(second.body.dataset_slug).toBe('__all__');
    expect(second.body.recipients).toEqual(first.body.recipients);
    const unknown = await postJson(`${url}/1/triggers/proxy`, { ...STORM, recipients: [{ id: 'nope' }] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('recipients[0].id: no recipient "nope" on any trigger');
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['a missing name', { ...STORM, name: '' }, 'name: is required: 1 to 120 characters'],
    ['a name over 120 characters', { ...STORM, name: 'x'.repeat(121) }, 'name: must be a string of at most 120 characters'],
    ['two calculations', { ...STORM, query: { ...STORM.query, calculations: [{ op: 'COUNT' }, { op: 'MAX', column: 'duration_ms' }] } }, 'query.calculations: a trigger query has exactly one calculation'],
    ['a HEATMAP', { ...STORM, query: { ...STORM.query, calculations: [{ op: 'HEATMAP', column: 'duration_ms' }] } }, 'query.calculations[0].op: HEATMAP cannot be used in a trigger'],
    ['orders', { ...STORM, query: { ...STORM.query, orders: [{ op: 'COUNT' }] } }, 'query.orders: is not allowed in a trigger query (allowed: calculations, filters, filter_combination, breakdowns, time_range, calculated_fields)'],
    ['a limit', { ...STORM, query: { ...STORM.query, limit: 10 } }, 'query.limit: is not allowed in a trigger query (allowed: calculations, filters, filter_combination, breakdowns, time_range, calculated_fields)'],
    ['a time_range over a day', { ...STORM, frequency: 86400, query: { ...STORM.query, time_range: 86401 } }, 'query.time_range: must be a whole number of seconds from 1 to 86400'],
    ['a frequency not divisible by 60', { ...STORM, frequency: 90 }, 'frequency: must be a number of seconds divisible by 60, from 60 to 86400'],
    ['a frequency over a day', { ...STORM, frequency: 86460 }, 'frequency: must be a number of seconds divisible by 60, from 60 to 86400'],
    ['an unknown column', { ...STORM, query: { ...STORM.query, filters: [{ column: 'nope', op: 'exists' }] } }, 'query.filters[0].column: unknown column "nope"'],
    ['threshold op =', { ...STORM, threshold: { op: '=', value: 1 } }, 'threshold.op: must be one of > >= < <='],
    ['a threshold without a value', { ...STORM, threshold: { op: '>' } }, 'threshold.value: must be a number'],
    ['exceeded_limit 6', { ...STORM, threshold: { op: '>', value: 1, exceeded_limit: 6 } }, 'threshold.exceeded_limit: must be a whole number from 1 to 5'],
    ['alert_type always', { ...STORM, alert_type: 'always' }, 'alert_type: must be "on_change" or "on_true"'],
    ['a webhook without a URL', { ...STORM, recipients: [{ type: 'webhook', target: 'ops hook' }] }, 'recipients[0].target: a webhook recipient needs its http(s) URL as target (or details.webhook_url)'],
    ['a recipient type sms', { ...STORM, recipients: [{ type: 'sms', target: '555' }] }, 'recipients[0].type: must be one of email, marker, msteams, msteams_workflow, pagerduty, slack, webhook'],
    ['a window on a bad day', { ...STORM, evaluation_schedule_type: 'window', evaluation_schedule: { window: { days_of_week: ['funday'], start_time: '01:00', end_time: '02:00' } } }, 'evaluation_schedule.window.days_of_week: must list days among sunday, monday, tuesday, wednesday, thursday, friday, saturday'],
    ['a window time 25:00', { ...STORM, evaluation_schedule_type: 'window', evaluation_schedule: { window: { days_of_week: ['monday'], start_time: '25:00', end_time: '02:00' } } }, 'evaluation_schedule.window.start_time: must be a UTC time as HH:mm, e.g. "14:00"'],
    ['baseline_details', { ...STORM, baseline_details: { offset_minutes: 60, type: 'percentage' } }, 'baseline_details: relative (baseline) thresholds are not supported by the Waggle backend'],
  ];
  for (const [what, body, error] of invalid) {
    it(`400 for ${what}, naming the field and the rule`, async () => {
      const res = await postJson(`${url}/1/triggers/proxy`, body);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error });
    });
  }

  it('404 for a dataset that does not exist', async () => {
    const res = await postJson(`${url}/1/triggers/nope`, STORM);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('dataset "nope" not found');
  });
});

describe('GET /1/triggers/:dataset (list) and /1/triggers/:dataset/:id (get)', () => {
  it('lists a dataset\'s triggers only, and gets one by id in the same shape', async () => {
    const created = (await postJson(`${url}/1/triggers/api`, { ...STORM, name: 'api storm' })).body;
    const list = await request(`${url}/1/triggers/api`, 'GET');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([created]);
    const proxyList = await request(`${url}/1/triggers/proxy`, 'GET');
    expect(proxyList.body.map((t: { id: string }) => t.id)).not.toContain(created.id);
    const one = await request(`${url}/1/triggers/api/${created.id}`, 'GET');
    expect(one).toEqual({ status: 200, body: created });
    // A trigger belongs to its dataset: another dataset's path does not find it.
    expect((await request(`${url}/1/triggers/proxy/${created.id}`, 'GET')).status).toBe(404);
    expect((await request(`${url}/1/triggers/api/nope`, 'GET')).body).toEqual({ error: 'trigger "nope" not found in dataset "api"' });
  });
});

describe('PUT /1/triggers/:dataset/:id (update)', () => {
  it('replaces the trigger: omitted optional fields go back to their defaults, disabled keeps its value', async () => {
    const created = (await postJson(`${url}/1/triggers/proxy`, { ...STORM, disabled: true, alert_type: 'on_true' })).body;
    await new Promise((r) => setTimeout(r, 5));
    const { description: _d, alert_type: _a, ...rest } = { ...STORM, alert_type: undefined };
    const updated = await request(`${url}/1/triggers/proxy/${created.id}`, 'PUT', { ...rest, threshold: { op: '>', value: 80 } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: created.id, threshold: { op: '>', value: 80, exceeded_limit: 1 }, description: '', alert_type: 'on_change', disabled: true, created_at: created.created_at });
    expect(updated.body.updated_at > created.updated_at).toBe(true);
    expect((await request(`${url}/1/triggers/proxy/${created.id}`, 'GET')).body).toEqual(updated.body);
    const enabled = await request(`${url}/1/triggers/proxy/${created.id}`, 'PUT', { ...STORM, disabled: false });
    expect(enabled.body.disabled).toBe(false);
    const bad = await request(`${url}/1/triggers/proxy/${created.id}`, 'PUT', { ...STORM, frequency: 30 });
    expect(bad.status).toBe(400);
    expect((await request(`${url}/1/triggers/proxy/nope`, 'PUT', STORM)).status).toBe(404);
  });
});

describe('DELETE /1/triggers/:dataset/:id', () => {
  it('answers 204 with no body, then the trigger is gone', async () => {
    const created = (await postJson(`${url}/1/triggers/proxy`, STORM)).body;
    const res = await fetch(`${url}/1/triggers/proxy/${created.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect((await request(`${url}/1/triggers/proxy/${created.id}`, 'GET')).status).toBe(404);
    expect((await request(`${url}/1/triggers/proxy/${created.id}`, 'DELETE')).status).toBe(404);
  });
});

describe('persistence', () => {
  it('triggers survive a restart of the backend on the same data directory', async () => {
    const dataDir = tempDir();
    const first = await startBackend({ port: 0, dataDir });
    await postJson(`${first.url}/1/batch/proxy`, [{ data: { name: 'retry_storm' } }]);
    const created = (await postJson(`${first.url}/1/triggers/proxy`, STORM)).body;
    await first.close();
    const second = await startBackend({ port: 0, dataDir });
    try {
      expect((await request(`${second.url}/1/triggers/proxy`, 'GET')).body).toEqual([created]);
    } finally {
      await second.close();
    }
  });
});

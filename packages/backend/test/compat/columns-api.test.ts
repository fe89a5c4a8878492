// Compatibility: Honeycomb's Columns API (`/1/columns/:dataset`, shapes as in its OpenAPI description and the
// honeycombio Terraform provider's client): list, get by id or `?key_name=`, create (a column may exist before
// any event carries it), update (hidden, description, type), delete (the column and its data).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/index.js';
import { freshBackend, postJson, request as send, runQuery } from '../helpers.js';

describe('the Columns API', () => {
  let backend: Backend;
  let base: string;
  beforeAll(async () => {
    backend = await freshBackend();
    base = `${backend.url}/1/columns/shop`;
    await postJson(`${backend.url}/1/batch/shop`, [
      { data: { 'cart.size': 3, 'user.plan': 'pro', ok: true } },
      { data: { 'cart.size': 5, 'user.plan': 'free', ok: false } },
    ]);
    await postJson(`${backend.url}/1/batch/other`, [{ data: { 'cart.size': 9 } }]);
  });
  afterAll(async () => {
    await backend.close();
  });

  it('lists every column in Honeycomb shape', async () => {
    const list = await send(base, 'GET');
    expect(list.status).toBe(200);
    const size = list.body.find((c: { key_name: string }) => c.key_name === 'cart.size');
    expect(size).toEqual({
      id: expect.any(String),
      key_name: 'cart.size',
      type: 'float',
      hidden: false,
      description: '',
      last_written: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      created_at: null,
      updated_at: null,
    });
    expect(Object.fromEntries(list.body.map((c: { key_name: string; type: string }) => [c.key_name, c.type]))).toMatchObject({ 'user.plan': 'string', ok: 'boolean' });
    expect((await send(`${backend.url}/1/columns/nope`, 'GET')).status).toBe(404);
  });

  it('gets one column by id and by ?key_name=', async () => {
    const byName = await send(`${base}?key_name=user.plan`, 'GET');
    expect(byName.body.key_name).toBe('user.plan');
    expect((await send(`${base}/${byName.body.id}`, 'GET')).body).toEqual(byName.body);
    expect((await send(`${base}?key_name=nope`, 'GET')).status).toBe(404);
    expect((await send(`${base}/nope`, 'GET')).status).toBe(404);
  });

  it('creates a column before any event carries it; queries may use it at once', async () => {
    const created = await postJson(base, { key_name: 'coupon', type: 'string', description: 'the coupon code', hidden: false });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ key_name: 'coupon', type: 'string', description: 'the coupon code', hidden: false, last_written: null });
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await postJson(base, { key_name: 'coupon' })).status).toBe(409);
    expect((await postJson(base, { key_name: 'cart.size' })).status).toBe(409);
    expect((await postJson(base, { key_name: 'x', type: 'date' })).body.error).toBe('type: must be one of string, integer, float, boolean');
    const data = await runQuery(backend.url, 'shop', { time_range: 600, breakdowns: ['coupon'] });
    expect(data.results).toEqual([{ data: { coupon: null, COUNT: 2 } }]);
  });

  it('updates hidden, description and type; the key_name cannot change', async () => {
    const plan = (await send(`${base}?key_name=user.plan`, 'GET')).body;
    const updated = await send(`${base}/${plan.id}`, 'PUT', { key_name: 'user.plan', hidden: true, description: 'billing plan' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: plan.id, key_name: 'user.plan', type: 'string', hidden: true, description: 'billing plan' });
    expect((await send(`${base}/${plan.id}`, 'PUT', { key_name: 'plan' })).body.error).toBe('key_name: cannot be changed; create a new column instead');
    // Hidden columns stay queryable.
    const data = await runQuery(backend.url, 'shop', { time_range: 600, filters: [{ column: 'user.plan', op: '=', value: 'pro' }] });
    expect(data.results[0]!.data.COUNT).toBe(1);
    // Declaring the number column an integer: its values read as whole numbers.
    const size = (await send(`${base}?key_name=cart.size`, 'GET')).body;
    expect((await send(`${base}/${size.id}`, 'PUT', { type: 'integer' })).body.type).toBe('integer');
  });

  it('deletes a column and its values in that dataset only; the fixed trace columns stay', async () => {
    const size = (await send(`${base}?key_name=cart.size`, 'GET')).body;
    expect((await send(`${base}/${size.id}`, 'DELETE')).status).toBe(204);
    expect((await send(`${base}/${size.id}`, 'GET')).status).toBe(404);
    expect((await send(base, 'GET')).body.map((c: { key_name: string }) => c.key_name)).not.toContain('cart.size');
    const here = await runQuery(backend.url, 'shop', { time_range: 600, filters: [{ column: 'cart.size', op: 'exists' }] });
    expect(here.results).toEqual([]);
    const there = await runQuery(backend.url, 'other', { time_range: 600, calculations: [{ op: 'SUM', column: 'cart.size' }] });
    expect(there.results[0]!.data['SUM(cart.size)']).toBe(9);
    // A later event brings the column back.
    await postJson(`${backend.url}/1/batch/shop`, [{ data: { 'cart.size': 4 } }]);
    expect((await send(`${base}?key_name=cart.size`, 'GET')).body.type).toBe('float');
    await postJson(`${backend.url}/1/batch/shop`, [{ data: { duration_ms: 4 } }]);
    const duration = (await send(`${base}?key_name=duration_ms`, 'GET')).body;
    expect((await send(`${base}/${duration.id}`, 'DELETE')).status).toBe(409);
    expect((await send(`${backend.url}/1/columns/__all__/${duration.id}`, 'DELETE')).status).toBe(400);
  });
});

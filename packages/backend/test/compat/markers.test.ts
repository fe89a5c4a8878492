// Compatibility: Honeycomb's Markers API (/1/markers: create, list, update with PUT, delete) and Marker Settings API
// (/1/marker_settings: a color per marker type), in the shapes of Honeycomb's OpenAPI description.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/index.js';
import { freshBackend, postJson } from '../helpers.js';

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; type: string; body: any }> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.json() };
}

const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

describe('Markers and Marker Settings', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
    await postJson(`${backend.url}/1/batch/Shop`, [{ data: { n: 1 } }]);
  });
  afterAll(async () => {
    await backend.close();
  });

  it('a marker is created (201), listed, updated with PUT (fields left out are erased) and deleted (200 with the marker)', async () => {
    const created = await call('POST', `${backend.url}/1/markers/shop`, { message: 'deploy #1', type: 'deploy', url: 'http://ci/1', start_time: 1764130000, end_time: 1764130300 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ message: 'deploy #1', type: 'deploy', url: 'http://ci/1', start_time: 1764130000, end_time: 1764130300 });
    expect(created.body.created_at).toMatch(ISO_SECONDS);
    expect(created.body.updated_at).toBe(created.body.created_at);
    const id = created.body.id as string;

    expect((await call('GET', `${backend.url}/1/markers/Shop`)).body.map((m: { id: string }) => m.id)).toEqual([id]);

    const updated = await call('PUT', `${backend.url}/1/markers/SHOP/${id}`, { message: 'deploy #1 (rolled back)', start_time: 1764130000 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id, message: 'deploy #1 (rolled back)', start_time: 1764130000, created_at: created.body.created_at });
    expect(updated.body).not.toHaveProperty('type');
    expect(updated.body).not.toHaveProperty('url');
    expect(updated.body).not.toHaveProperty('end_time');
    const listed = (await call('GET', `${backend.url}/1/markers/shop`)).body;
    expect(listed).toEqual([updated.body]);

    const deleted = await call('DELETE', `${backend.url}/1/markers/shop/${id}`);
    expect(deleted).toMatchObject({ status: 200, body: { id, message: 'deploy #1 (rolled back)' } });
    expect((await call('GET', `${backend.url}/1/markers/shop`)).body).toEqual([]);
    expect((await call('DELETE', `${backend.url}/1/markers/shop/${id}`)).status).toBe(404);
    expect((await call('PUT', `${backend.url}/1/markers/shop/${id}`, { message: 'x' })).status).toBe(404);
  });

  it('a marker of another dataset cannot be updated or deleted through this one', async () => {
    await postJson(`${backend.url}/1/batch/elsewhere`, [{ data: { n: 1 } }]);
    const other = await call('POST', `${backend.url}/1/markers/elsewhere`, { message: 'theirs' });
    expect((await call('DELETE', `${backend.url}/1/markers/shop/${other.body.id}`)).status).toBe(404);
    expect((await call('GET', `${backend.url}/1/markers/elsewhere`)).body.map((m: { message: string }) => m.message)).toEqual(['theirs']);
  });

  it('marker settings: create (201), list, update the color (type fixed), delete; listed markers carry their type\'s color', async () => {
    const created = await call('POST', `${backend.url}/1/marker_settings/shop`, { type: 'deploy', color: '#7b1fa2' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'deploy', color: '#7b1fa2' });
    expect(created.body.id).toMatch(/^[0-9a-f]+$/);
    expect(created.body.created_at).toMatch(ISO_SECONDS);
    const env = await call('POST', `${backend.url}/1/marker_settings/__all__`, { type: 'incident', color: '#F96E11' });
    expect(env.status).toBe(201);

    await call('POST', `${backend.url}/1/markers/shop`, { message: 'v2', type: 'deploy', start_time: 1764130100 });
    await call('POST', `${backend.url}/1/markers/__all__`, { message: 'outage', type: 'incident', start_time: 1764130200 });
    await call('POST', `${backend.url}/1/markers/shop`, { message: 'plain', start_time: 1764130300 });
    const colors = (await call('GET', `${backend.url}/1/markers/shop`)).body.map((m: { message: string; color?: string }) => [m.message, m.color ?? null]);
    expect(colors).toEqual([
      ['v2', '#7b1fa2'],
      ['outage', '#F96E11'],
      ['plain', null],
    ]);

    expect((await call('GET', `${backend.url}/1/marker_settings/Shop`)).body).toEqual([created.body]);
    const recolored = await call('PUT', `${backend.url}/1/marker_settings/shop/${created.body.id}`, { type: 'deploy', color: '#1fa297' });
    expect(recolored.status).toBe(200);
    expect(recolored.body).toMatchObject({ id: created.body.id, type: 'deploy', color: '#1fa297', created_at: created.body.created_at });
    expect((await call('GET', `${backend.url}/1/markers/shop`)).body[0].color).toBe('#1fa297');

    const deleted = await call('DELETE', `${backend.url}/1/marker_settings/shop/${created.body.id}`);
    expect(deleted).toMatchObject({ status: 200, body: { id: created.body.id, type: 'deploy', color: '#1fa297' } });
    expect((await call('GET', `${backend.url}/1/marker_settings/shop`)).body).toEqual([]);
    expect((await call('GET', `${backend.url}/1/markers/shop`)).body[0]).not.toHaveProperty('color');
  });

  it("marker settings that break a rule are 422 in Honeycomb's ValidationFailed shape; an unknown dataset is 404", async () => {
    const cases: [unknown, string][] = [
      [{ color: '#000000' }, 'type'],
      [{ type: 'deploy' }, 'color'],
      [{ type: 'deploy', color: 'purple' }, 'color'],
    ];
    for (const [body, field] of cases) {
      const res = await call('POST', `${backend.url}/1/marker_settings/shop`, body);
      expect(res.status).toBe(422);
      expect(res.type).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 422, error: 'The provided input is invalid.', type_detail: [{ field, code: 'invalid' }] });
    }
    const s = await call('POST', `${backend.url}/1/marker_settings/shop`, { type: 'release', color: '#000000' });
    const retype = await call('PUT', `${backend.url}/1/marker_settings/shop/${s.body.id}`, { type: 'other', color: '#000000' });
    expect(retype.status).toBe(422);
    expect(retype.body.type_detail[0].description).toMatch(/^type: may not be changed after creation/);
    expect((await call('POST', `${backend.url}/1/marker_settings/shop`, { type: 'release', color: '#111111' })).status).toBe(422);
    expect((await call('POST', `${backend.url}/1/marker_settings/nope`, { type: 'deploy', color: '#000000' })).status).toBe(404);
    expect((await call('GET', `${backend.url}/1/marker_settings/nope`)).status).toBe(404);
  });
});

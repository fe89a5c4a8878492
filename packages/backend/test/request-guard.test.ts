import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { hostName, isLoopback } from '../src/request-guard.js';
import { freshBackend } from './helpers.js';

/** A raw request (node:http sends exactly these headers, Host included). */
function request(url: string, target: string, headers: Record<string, string>, body = '[{"data":{"a":1}}]', method = 'POST'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = http.request({ hostname, port, path: target, method, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    req.end(method === 'GET' ? undefined : body);
  });
}

describe('requests a browser page could send are checked before any route', () => {
  let backend: Backend;
  let host: string;
  const uiDir = mkdtempSync(path.join(tmpdir(), 'waggle-ui-'));
  beforeAll(async () => {
    writeFileSync(path.join(uiDir, 'index.html'), '<!doctype html><title>ui</title>');
    backend = await freshBackend({ allowedHosts: ['waggle.internal'], uiDir });
    host = new URL(backend.url).host;
  });
  afterAll(async () => {
    await backend.close();
    rmSync(uiDir, { recursive: true, force: true });
  });

  it('Host must name loopback or an allowed host while the backend listens on loopback', async () => {
    const port = new URL(backend.url).port;
    for (const ok of [host, `localhost:${port}`, `127.0.0.5:${port}`, `[::1]:${port}`, `app.localhost:${port}`, `waggle.internal:${port}`]) {
      expect((await request(backend.url, '/1/datasets', { host: ok }, '', 'GET')).status, ok).toBe(200);
    }
    for (const bad of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, 'localhost.evil.example']) {
      const res = await request(backend.url, '/1/datasets', { host: bad }, '', 'GET');
      expect(res.status, bad).toBe(403);
      expect(res.body).toMatch(/WAGGLE_BACKEND_HOST_REFUSED/);
    }
    // The UI and OTLP ingest are behind the same check.
    expect((await request(backend.url, '/', { host: `evil.example:${port}` }, '', 'GET')).status).toBe(403);
    expect((await request(backend.url, '/v1/traces', { host: `evil.example:${port}`, 'content-type': 'application/json' }, '{}')).status).toBe(403);
  });

  it('the host of publicUrl is answered too (a proxy in front of a loopback backend)', async () => {
    const proxied = await freshBackend({ publicUrl: 'https://waggle.example.com' });
    try {
      const port = new URL(proxied.url).port;
      expect((await request(proxied.url, '/1/datasets', { host: 'waggle.example.com' }, '', 'GET')).status).toBe(200);
      expect((await request(proxied.url, '/1/datasets', { host: `other.example.com:${port}` }, '', 'GET')).status).toBe(403);
    } finally {
      await proxied.close();
    }
  });

  it('writes from another origin are refused, by Sec-Fetch-Site or else Origin; reads and programs pass', async () => {
    const json = { host, 'content-type': 'application/json' };
    expect((await request(backend.url, '/1/batch/guard', { ...json, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' })).status).toBe(403);
    expect((await request(backend.url, '/1/batch/guard', { ...json, 'sec-fetch-site': 'same-site', origin: 'http://localhost:3000' })).status).toBe(403);
    expect((await request(backend.url, '/1/markers/guard', { ...json, origin: 'null' }, '{"message":"x"}')).status).toBe(403);
    expect((await request(backend.url, '/1/batch/guard', { ...json, origin: `http://${host}` })).status).toBe(200);
    expect((await request(backend.url, '/1/batch/guard', { ...json, 'sec-fetch-site': 'same-origin', origin: `http://${host}` })).status).toBe(200);
    // No browser headers: a program (curl sends text/plain or a form type when told nothing).
    expect((await request(backend.url, '/1/batch/guard', { host, 'content-type': 'text/plain' })).status).toBe(200);
    // A cross-origin read is let through (the browser keeps the answer from the page: no CORS headers are sent).
    expect((await request(backend.url, '/api/query/guard', { ...json, 'sec-fetch-site': 'cross-site' }, '{}')).status).toBe(200);
  });

  it('from the same origin, a browser must still send JSON: text/plain, form and empty types are refused', async () => {
    const same = { host, 'sec-fetch-site': 'same-origin', origin: `http://${host}` };
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const res = await request(backend.url, '/1/batch/guard', { ...same, 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(res.body).toMatch(/WAGGLE_BACKEND_BROWSER_CONTENT_TYPE/);
    }
    expect((await request(backend.url, '/1/events/guard', same, '{"a":1}')).status).toBe(415);
  });

  it('GET /%ZZ and other bad percent-encoding answer 400, not 500', async () => {
    for (const target of ['/%ZZ', '/api/traces/%ZZ', '/1/columns/%E0%A4%A']) {
      const res = await request(backend.url, target, { host }, '', 'GET');
      expect(res.status, target).toBe(400);
      expect(JSON.parse(res.body).error).toMatch(/not valid percent-encoding/);
    }
  });

  it('loopback names and Host parsing', () => {
    expect(['localhost', 'LOCALHOST', 'a.localhost', '127.0.0.1', '127.255.0.9', '::1', '[::1]'].every(isLoopback)).toBe(true);
    expect(['localhost.evil', '127.0.0.1.nip.io', '10.0.0.1', '0.0.0.0', 'evil'].some(isLoopback)).toBe(false);
    expect(hostName('Example.COM:8080')).toBe('example.com');
    expect(hostName('[::1]:4318')).toBe('::1');
    expect(hostName(undefined)).toBeUndefined();
  });
});

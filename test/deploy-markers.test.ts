// Automatic deploy markers (@waggle/node + @waggle/instrumentation-runtime): a service restarted on a new
// service.version records exactly one deploy marker, even when several instances start on it at once, on the local
// backend and, against a recorded stand-in, through Honeycomb's documented Markers API request.
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend, type Backend } from '@waggle/backend';
import { runNode } from '@waggle/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'waggle-deploy-markers-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs one instance of `service` on `version` to completion; resolves with its stderr. */
async function deploy(service: string, version: string, instance: string, env: Record<string, string | undefined>): Promise<string> {
  const app = runNode({
    script: `${fixtures}deploy-app.mjs`,
    nodeOptions: ['--import', '@waggle/node/register'],
    cwd: fixtures,
    env: {
      OTEL_SERVICE_NAME: service,
      OTEL_RESOURCE_ATTRIBUTES: `service.version=${version}`,
      WAGGLE_RUNTIME_STATE_DIR: join(work, 'state'),
      WAGGLE_RUNTIME_STATE_KEY: instance,
      OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
      HONEYCOMB_API_KEY: undefined,
      HONEYCOMB_API_ENDPOINT: undefined,
      ...env,
    },
    timeoutMs: 60_000,
  });
  const { code } = await app.waitForExit({ timeoutMs: 60_000 });
  expect(code, app.stderr).toBe(0);
  return app.stderr;
}

describe('deploy markers on the local backend', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await startBackend({ port: 0, dataDir: join(work, 'data') });
  });
  afterAll(async () => {
    await backend?.close();
  });

  const markers = async (service: string) => ((await (await fetch(`${backend.url}/1/markers/${service}`)).json()) as Array<{ type?: string; message?: string; start_time: number }>).filter((m) => m.type === 'deploy');

  it('a restart on a new version records one marker with both versions; three instances starting on it at once still one', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: backend.url };
    const instances = ['shop-1', 'shop-2', 'shop-3'];
    await Promise.all(instances.map((i) => deploy('shop', 'v1', i, env)));
    await deploy('shop', 'v1', 'shop-1', env); // a plain restart
    expect(await markers('shop')).toEqual([]);

    const before = Math.floor(Date.now() / 1000);
    await Promise.all(instances.map((i) => deploy('shop', 'v2', i, env)));
    const after = await markers('shop');
    expect(after.map((m) => m.message)).toEqual(['shop: v1 → v2']);
    expect(after[0]!.start_time).toBeGreaterThanOrEqual(before);
  });

  it('WAGGLE_DEPLOY_MARKERS=false turns them off; an unreachable backend costs one line, never the app', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: backend.url };
    await deploy('cart', 'v1', 'cart-1', env);
    await deploy('cart', 'v2', 'cart-1', { ...env, WAGGLE_DEPLOY_MARKERS: 'false' });
    expect(await markers('cart')).toEqual([]);
    const closed = await closedPort();
    const stderr = await deploy('cart', 'v3', 'cart-1', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}` });
    expect(stderr).toMatch(new RegExp(`^waggle: WAGGLE_DEPLOY_MARKER_FAILED cart v2 → v3: http://127\\.0\\.0\\.1:${closed} unreachable \\(ECONNREFUSED\\)$`, 'm'));
  });
});

describe('deploy markers on Honeycomb', () => {
  interface Seen { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }
  const seen: Seen[] = [];
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    // Stands in for api.honeycomb.io: OTLP ingest answers 200, the Markers API as documented (201 with the marker).
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        if (req.url === '/v1/traces') return void res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        seen.push({ method: req.method!, path: req.url!, headers: req.headers, body });
        if (req.method === 'POST' && req.url?.startsWith('/1/markers/')) {
          const marker = { id: 'd1c84ec0', created_at: '2026-11-26T04:00:00Z', updated_at: '2026-11-26T04:00:00Z', ...JSON.parse(body) };
          return void res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(marker));
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('sends one POST /1/markers/<service.name> with the configuration key and {message, type, start_time}', async () => {
    // An environment (configuration) key: the dataset is service.name.
    const env = { HONEYCOMB_API_KEY: 'hcxik_envkey0123456789abcdef', HONEYCOMB_API_ENDPOINT: url };
    await Promise.all(['pay-1', 'pay-2'].map((i) => deploy('payments', 'v41', i, env)));
    expect(seen).toEqual([]);
    const before = Math.floor(Date.now() / 1000);
    await Promise.all(['pay-1', 'pay-2'].map((i) => deploy('payments', 'v42', i, env)));
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/1/markers/payments');
    expect(request!.headers['x-honeycomb-team']).toBe('hcxik_envkey0123456789abcdef');
    expect(request!.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request!.body);
    expect(Object.keys(body).toSorted()).toEqual(['message', 'start_time', 'type']);
    expect(body).toMatchObject({ message: 'payments: v41 → v42', type: 'deploy' });
    expect(Number.isInteger(body.start_time) && body.start_time >= before).toBe(true);
  });
});

// Cross-package: WAGGLE_TRACE_LINKS in a service exporting to a real `waggle serve` backend (@waggle/backend)
// prints links to that backend's UI, even with a Honeycomb key in the environment, and the link opens the trace.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend, type Backend } from '@waggle/backend';
import { runNode, type NodeProcess } from '@waggle/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const KEY = 'Xk3jP9sA0bC1dE2fG3hI4j';
let backend: Backend;
let dataDir: string;
let app: NodeProcess | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-links-'));
  backend = await startBackend({ port: 0, dataDir, keys: [KEY] });
});
afterAll(async () => {
  app?.kill('SIGKILL');
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('trace links for the local backend', () => {
  it('with HONEYCOMB_API_KEY set and the endpoint on a local backend, links point at the local UI and open the trace', async () => {
    app = runNode({
      script: `${fixtures}checkout.mjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: fixtures,
      env: {
        OTEL_SERVICE_NAME: 'links-local',
        OTEL_EXPORTER_OTLP_ENDPOINT: backend.url,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
        HONEYCOMB_API_KEY: KEY,
        HONEYCOMB_API_ENDPOINT: undefined,
        WAGGLE_UI_URL: undefined,
        WAGGLE_TRACE_LINKS: 'true',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      },
    });
    const port = (await app.waitForOutput(/listening (\d+)/, { timeoutMs: 30_000 }))[1];
    expect((await fetch(`http://127.0.0.1:${port}/checkout`)).status).toBe(200);
    const [, link, traceId] = await app.waitForOutput(/WAGGLE_TRACE_LINK (\S*?([0-9a-f]{32}))\s*$/m, { timeoutMs: 30_000 });
    expect(link).toBe(`${backend.url}/#/trace/${traceId}`);
    expect(app.stderr).not.toContain('honeycomb.io');
    // The link's trace is in that backend.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await fetch(`${backend.url}/api/traces/${traceId}`, { headers: { 'x-honeycomb-team': KEY } })).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  });
});

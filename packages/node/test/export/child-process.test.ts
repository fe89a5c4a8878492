import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runNode } from '@waggle/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { drive, waitFor } from './app.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

const fixture = fileURLToPath(new URL('./fixtures/traced-app.mjs', import.meta.url));
const built = fileURLToPath(new URL('../../dist/export/index.js', import.meta.url));
let server: FaultServer | undefined;

afterEach(async () => {
  await server?.close();
});

describe('an instrumented app in its own process', () => {
  it('serves every request with strict unhandled rejections while the backend goes down, 503, hangs, answers garbage, then recovers', async () => {
    expect(existsSync(built), 'build @waggle/node first (npx tsc -p tsconfig.build.json)').toBe(true);
    server = await startFaultServer('ok');
    const app = runNode({ script: fixture, args: [server.url], nodeOptions: ['--unhandled-rejections=strict'] });
    const port = (await app.waitForOutput(/listening (\d+)/))[1];
    const url = `http://127.0.0.1:${port}`;
    let ok = 0;
    let failed = 0;
    for (const mode of ['down', '503', 'hang', 'garbage'] as const) {
      await server.setMode(mode);
      const started = Date.now();
      while (Date.now() - started < 1500) {
        const result = await drive(url, 20, 4);
        ok += result.ok;
        failed += result.failed;
      }
    }
    await server.setMode('ok');
    await drive(url, 5, 1);
    expect(await waitFor(() => server!.spans.some((s) => s.name.startsWith('GET /item/')), 5000)).toBe(true);
    // The loss report of the outage arrives too.
    expect(await waitFor(() => server!.spans.some((s) => s.name === 'waggle.telemetry_loss'), 5000)).toBe(true);
    expect(failed).toBe(0);
    expect(ok).toBeGreaterThan(0);
    app.kill('SIGTERM');
    const exit = await app.waitForExit({ timeoutMs: 15_000 });
    expect(exit.code).toBe(0);
    expect(app.stderr).not.toMatch(/UnhandledPromiseRejection|unhandled/i);
    expect(app.stderr).toMatch(/WAGGLE_EXPORT_LOSS dropped \d+ spans/);
  });
});

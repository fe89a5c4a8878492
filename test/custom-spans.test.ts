// Cross-package: an app's own spans and fields (@waggle/api) exported by the distro (@waggle/node) over OTLP.
import { expectSpan, runNode, startReceiver, type NodeProcess, type OtlpReceiver } from '@waggle/testing';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
let receiver: OtlpReceiver;
let app: NodeProcess;
let base = '';

beforeAll(async () => {
  receiver = await startReceiver();
  app = runNode({
    script: `${fixtures}checkout.mjs`,
    nodeOptions: ['--import', '@waggle/node/register'],
    cwd: fixtures,
    receiver,
    env: { OTEL_SERVICE_NAME: 'checkout', OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
  base = `http://127.0.0.1:${(await app.waitForOutput(/listening (\d+)/, { timeoutMs: 30_000 }))[1]}`;
});
afterAll(async () => {
  app?.kill('SIGKILL');
  await receiver?.close();
});

describe('custom spans in a traced service', () => {
  it('withSpan is a child of the SERVER span; fields are flattened and the timer lands on the SERVER span', async () => {
    expect((await fetch(`${base}/checkout`)).status).toBe(200);
    const [charge] = await receiver.waitForSpans({ name: 'charge card' });
    const [server] = await receiver.waitForSpans({ where: (s) => s.kindName === 'server' && s.traceId === charge!.traceId });
    expectSpan(charge!, { kind: 'internal', status: 'unset', parent: server!, attributes: { 'payment.provider': 'fake' } });
    expectSpan(server!, {
      name: 'GET',
      attributes: { 'http.route': '/checkout', 'cart.items': 3, 'cart.currency': 'EUR', 'http.response.status_code': 200 },
    });
    expect(server!.attributes['render_ms']).toBeGreaterThan(0);
  });

  it('an exception inside withSpan is recorded with error.type and status ERROR, and the app handles it', async () => {
    expect((await fetch(`${base}/checkout?fail=1`)).status).toBe(402);
    const [failed] = await receiver.waitForSpans({ name: 'charge card', where: (s) => s.status.code === 2 });
    expectSpan(failed!, { status: { code: 'error', message: 'card declined' }, attributes: { 'error.type': 'CardDeclined' } });
    expect(failed!.events.map((e) => e.name)).toEqual(['exception']);
  });
});

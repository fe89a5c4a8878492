// Must show: rollup.db.count equals the number of SQL statements the app ran, on a Sequelize request with 14 of them,
// with one span per query (default) and with full detail (the pg spans nested under Sequelize's are not counted again).
import { runNode, serviceAvailable, startReceiver, type NodeProcess, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './harness.js';

const postgres = await serviceAvailable('postgres');
let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

async function checkout(spans: 'query' | 'full'): Promise<{ answer: { statements: number }; server: ReceivedSpan; trace: ReceivedSpan[] }> {
  const service = `conformance-sequelize-${spans}`;
  const app: NodeProcess = runNode({
    script: `${ROOT}apps/sequelize.cjs`,
    nodeOptions: ['--import', '@waggle/node/register'],
    cwd: ROOT,
    env: { OTEL_SERVICE_NAME: service, OTEL_BSP_SCHEDULE_DELAY: '100', WAGGLE_SEQUELIZE_SPANS: spans, CONFORMANCE_QUEUE: `conf_seq_${spans}_${process.pid}` },
    receiver,
    timeoutMs: 120_000,
  });
  try {
    const port = Number((await app.waitForOutput(/listening (\d+)/, { timeoutMs: 60_000 }))[1]);
    // The first request opens the pool's connections; the second is the one measured.
    await (await fetch(`http://127.0.0.1:${port}/checkout`, { method: 'POST' })).json();
    const answer = (await (await fetch(`http://127.0.0.1:${port}/checkout`, { method: 'POST' })).json()) as { statements: number };
    const servers = await receiver.waitForSpans({ count: 2, where: (s) => s.serviceName === service && s.kindName === 'server' });
    const server = servers.toSorted((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1))[1]!;
    await new Promise((r) => setTimeout(r, 300));
    return { answer, server, trace: receiver.spans.filter((s) => s.traceId === server.traceId) };
  } finally {
    app.kill('SIGTERM');
    await app.waitForExit({ timeoutMs: 15_000 }).catch(() => app.kill('SIGKILL'));
  }
}

describe.skipIf(!postgres)('rollups on a Sequelize request', () => {
  it('one span per query (default): rollup.db.count is the number of statements Sequelize sent, 14', async () => {
    const { answer, server, trace } = await checkout('query');
    expect(answer.statements).toBe(14);
    expect(server.attributes['rollup.db.count']).toBe(14);
    const queries = trace.filter((s) => s.kindName === 'client' && s.scope.name === '@waggle/instrumentation-sequelize');
    expect(queries).toHaveLength(14);
    expect(trace.filter((s) => s.scope.name === '@opentelemetry/instrumentation-pg')).toHaveLength(0);
    // Sequential statements: their summed time fits in the request.
    expect(server.attributes['rollup.db.duration_ms'] as number).toBeLessThanOrEqual(server.durationMs);
  });

  it('full detail: the pg spans under the Sequelize queries are not counted again', async () => {
    const { answer, server, trace } = await checkout('full');
    expect(answer.statements).toBe(14);
    expect(trace.filter((s) => s.scope.name === '@opentelemetry/instrumentation-pg' && s.kindName === 'client').length).toBeGreaterThanOrEqual(14);
    expect(server.attributes['rollup.db.count']).toBe(14);
    expect(server.attributes['rollup.db.duration_ms'] as number).toBeLessThanOrEqual(server.durationMs);
  });
});

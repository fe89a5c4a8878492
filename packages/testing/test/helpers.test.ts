import { describe, expect, it } from 'vitest';
import { childrenOf, expectSpan, findSpan, rootsOf, startReceiver, traceOf } from '../src/index.js';
import type { ReceivedSpan } from '../src/index.js';
import { exportWith, makeSpans } from './sdk.js';

async function receiveTwoTraces(): Promise<ReceivedSpan[]> {
  const receiver = await startReceiver();
  try {
    await exportWith('proto', receiver.tracesUrl, [...(await makeSpans('one')), ...(await makeSpans('two'))]);
    return await receiver.waitForSpans(6);
  } finally {
    await receiver.close();
  }
}

describe('span helpers', () => {
  it('rootsOf, childrenOf and traceOf follow parent ids within a trace', async () => {
    const spans = await receiveTwoTraces();
    const roots = rootsOf(spans);
    expect(roots.map((s) => `${s.serviceName}:${s.name}`).toSorted()).toEqual(['one:GET /orders', 'two:GET /orders']);
    const root = roots.find((s) => s.serviceName === 'one')!;
    expect(childrenOf(spans, root).map((s) => s.name).toSorted()).toEqual(['SELECT orders', 'render']);
    expect(traceOf(spans, root.traceId)).toHaveLength(3);
    expect(traceOf(spans, root.traceId).every((s) => s.serviceName === 'one')).toBe(true);
    expect(findSpan(spans, (s) => s.kindName === 'client' && s.serviceName === 'two')?.name).toBe('SELECT orders');
    expect(findSpan(spans, (s) => s.name === 'nope')).toBeUndefined();
  });

  it('expectSpan passes on a match and lists every mismatch otherwise', async () => {
    const spans = await receiveTwoTraces();
    const server = findSpan(spans, (s) => s.kindName === 'server')!;
    expectSpan(server, { name: 'GET /orders', kind: 'server', attributes: { 'http.route': '/orders', 'http.response.status_code': 200 } });
    expectSpan(server, { name: /^GET /, kind: 2, attributes: { 'http.route': /orders/, 'not.there': undefined } });
    let message = '';
    try {
      expectSpan(server, { name: 'POST /orders', kind: 'client', attributes: { 'http.route': '/x', 'http.response.status_code': 200, missing: 1 } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`span 'GET /orders' (server, service 'one') does not match:`);
    expect(message).toContain(`  name: expected 'POST /orders', got 'GET /orders'`);
    expect(message).toContain(`  kind: expected 'client', got 'server'`);
    expect(message).toContain(`  attributes['http.route']: expected '/x', got '/orders'`);
    expect(message).toContain(`  attributes['missing']: expected 1, got absent`);
    expect(message).not.toContain('http.response.status_code\']: expected');
    expect(() => expectSpan(undefined, { name: 'x' })).toThrow(/expectSpan: no span/);
  });

  it('expectSpan checks status, service and parent', async () => {
    const spans = await receiveTwoTraces();
    const server = findSpan(spans, (s) => s.kindName === 'server' && s.serviceName === 'one')!;
    const query = findSpan(spans, (s) => s.name === 'SELECT orders' && s.serviceName === 'one')!;
    const otherServer = findSpan(spans, (s) => s.kindName === 'server' && s.serviceName === 'two')!;
    expectSpan(query, { status: 'unset', serviceName: 'one', parent: server });
    expect(() => expectSpan(query, { status: { code: 'error', message: /boom/ }, serviceName: 'two', parent: otherServer })).toThrow(
      /status: expected 'error', got 'unset'\n {2}status.message: expected \/boom\/, got ''\n {2}serviceName: expected 'two', got 'one'\n {2}parent: expected child of 'GET \/orders'/,
    );
    expect(() => expectSpan(server, { parent: otherServer })).toThrow(/got parent none \(root\)/);
  });
});

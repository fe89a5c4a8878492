import { describe, expect, it } from 'vitest';
import { computeGaps, type GapSpan } from '../src/gaps.js';

const T0 = Date.parse('2026-11-26T04:00:00Z');
let nextId = 1;
const id = () => (nextId++).toString(16).padStart(16, '0');

function span(traceId: string, partial: Partial<GapSpan> & Pick<GapSpan, 'service' | 'kind'>): GapSpan {
  return { traceId, spanId: id(), parentId: null, name: `${partial.kind} span`, timeMs: T0, ...partial };
}

/** proxy SERVER → proxy CLIENT → api SERVER → api CLIENT (postgres, external) */
function completeTrace(traceId: string, timeMs = T0): GapSpan[] {
  const root = span(traceId, { service: 'proxy', kind: 'server', name: 'GET /users/:id', timeMs });
  const hop = span(traceId, { service: 'proxy', kind: 'client', parentId: root.spanId, peer: 'api:3000', timeMs });
  const api = span(traceId, { service: 'api', kind: 'server', parentId: hop.spanId, timeMs });
  const db = span(traceId, { service: 'api', kind: 'client', parentId: api.spanId, peer: 'postgres:5432', external: true, timeMs });
  return [root, hop, api, db];
}

const window = { startMs: T0 - 60_000, endMs: T0 + 60_000 };

describe('gaps report', () => {
  it('a complete trace yields no gap and full coverage on its edge', () => {
    const report = computeGaps(completeTrace('a'.repeat(32)), window);
    expect(report.missingHops).toEqual([]);
    expect(report.orphanSpans).toEqual([]);
    expect(report.rootlessTraces.count).toBe(0);
    expect(report.silentServices).toEqual([]);
    expect(report.edges).toEqual([
      expect.objectContaining({ from: 'proxy', to: 'api', peer: 'api:3000', calls: 1, covered: 1, coveragePercent: 100 }),
    ]);
  });

  it('a client call whose callee sent no server span is an uninstrumented hop named by server.address', () => {
    const trace = 'b'.repeat(32);
    const spans = completeTrace(trace);
    const api = spans[2]!;
    spans.push(span(trace, { service: 'api', kind: 'client', parentId: api.spanId, peer: 'legacy-billing:8080' }));
    const report = computeGaps([...spans, ...completeTrace('c'.repeat(32))], window);
    expect(report.missingHops).toEqual([
      { service: 'api', peer: 'legacy-billing:8080', kind: 'client', count: 1, exampleTraceId: trace },
    ]);
    const edge = report.edges.find((e) => e.peer === 'legacy-billing:8080');
    expect(edge).toMatchObject({ from: 'api', to: 'legacy-billing:8080', calls: 1, covered: 0, coveragePercent: 0 });
    // The proxy → api edge is still fully covered across both traces.
    expect(report.edges.find((e) => e.peer === 'api:3000')).toMatchObject({ calls: 2, covered: 2, coveragePercent: 100 });
  });

  it('a producer span with no consumer span is a missing hop named by its destination', () => {
    const trace = 'd'.repeat(32);
    const root = span(trace, { service: 'api', kind: 'server' });
    const produce = span(trace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const report = computeGaps([root, produce], window);
    expect(report.missingHops).toEqual([{ service: 'api', peer: 'emails', kind: 'producer', count: 1, exampleTraceId: trace }]);
  });

  it('a span whose parent never arrived is an orphan, attributed to its caller when known', () => {
    const trace = 'e'.repeat(32);
    // The proxy forwarded traceparent but its own spans never arrived.
    const apiServer = span(trace, { service: 'api', kind: 'server', name: 'GET /users/:id', parentId: 'f'.repeat(16), caller: '10.0.0.7' });
    const db = span(trace, { service: 'api', kind: 'client', parentId: apiServer.spanId, peer: 'postgres:5432', external: true });
    const report = computeGaps([apiServer, db], window);
    expect(report.orphanSpans).toEqual([{ service: 'api', name: 'GET /users/:id', caller: '10.0.0.7', count: 1, exampleTraceId: trace }]);
    expect(report.rootlessTraces).toEqual({ count: 1, exampleTraceIds: [trace] });
    // Database calls never produce server spans: they are not reported as hops.
    expect(report.missingHops).toEqual([]);
  });

  it('a service whose spans stopped well before the others is reported as silent', () => {
    const early = completeTrace('1'.repeat(32), T0 - 50_000).map((s) => (s.service === 'api' ? s : { ...s, service: 'worker' }));
    const late = span('2'.repeat(32), { service: 'proxy', kind: 'server', timeMs: T0 + 40_000 });
    const report = computeGaps([...early, late], { ...window, silenceMs: 30_000 });
    expect(report.silentServices.map((s) => s.service).toSorted()).toEqual(['api', 'worker']);
    expect(report.silentServices.find((s) => s.service === 'proxy')).toBeUndefined();
  });

  it('traces still arriving inside the settle time are not judged', () => {
    const trace = '3'.repeat(32);
    const root = span(trace, { service: 'api', kind: 'server', timeMs: window.endMs - 1000 });
    const call = span(trace, { service: 'api', kind: 'client', parentId: root.spanId, peer: 'svc:80', timeMs: window.endMs - 1000 });
    const report = computeGaps([root, call], window);
    expect(report.missingHops).toEqual([]);
    expect(report.traces).toBe(0);
  });

  it('an HTTP call that got no response is not an uninstrumented hop: nothing could have answered it', () => {
    const trace = '4'.repeat(32);
    const root = span(trace, { service: 'api', kind: 'server' });
    const refused = span(trace, { service: 'api', kind: 'client', parentId: root.spanId, peer: 'legacy:8080', reached: false });
    const answered = span(trace, { service: 'api', kind: 'client', parentId: root.spanId, peer: 'legacy:8080' });
    const report = computeGaps([root, refused, answered], window);
    expect(report.missingHops).toEqual([expect.objectContaining({ peer: 'legacy:8080', count: 1 })]);
    expect(report.edges).toEqual([expect.objectContaining({ peer: 'legacy:8080', calls: 1 })]);
  });

  it('a producer whose job was consumed in a linked trace (batch receive) is covered, not a missing hop', () => {
    const trace = '5'.repeat(32);
    const root = span(trace, { service: 'api', kind: 'server' });
    const send = span(trace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const report = computeGaps([root, send], window, [{ fromService: 'worker', toSpanId: send.spanId }]);
    expect(report.missingHops).toEqual([]);
    expect(report.edges).toEqual([expect.objectContaining({ from: 'api', to: 'worker', peer: 'emails', coveragePercent: 100 })]);
  });

  it('messages still queued for a destination an instrumented consumer reads are not a missing hop', () => {
    const consumedTrace = '6'.repeat(32);
    const root = span(consumedTrace, { service: 'api', kind: 'server' });
    const send = span(consumedTrace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const process = span(consumedTrace, { service: 'worker', kind: 'consumer', parentId: send.spanId, peer: 'emails' });
    const queuedTrace = '7'.repeat(32);
    const root2 = span(queuedTrace, { service: 'api', kind: 'server' });
    const queued = span(queuedTrace, { service: 'api', kind: 'producer', parentId: root2.spanId, peer: 'emails' });
    const lostTrace = '8'.repeat(32);
    const root3 = span(lostTrace, { service: 'api', kind: 'server' });
    const unread = span(lostTrace, { service: 'api', kind: 'producer', parentId: root3.spanId, peer: 'audit-log' });
    const report = computeGaps([root, send, process, root2, queued, root3, unread], window);
    expect(report.missingHops).toEqual([expect.objectContaining({ service: 'api', peer: 'audit-log', kind: 'producer', count: 1 })]);
    expect(report.edges.find((e) => e.peer === 'emails')).toMatchObject({ to: 'worker', calls: 1, covered: 1, coveragePercent: 100 });
  });
});

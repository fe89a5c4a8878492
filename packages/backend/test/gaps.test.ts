import { describe, expect, it } from 'vitest';
import { computeGaps, gapSpanFromFields, type GapField, type GapSpan } from '../src/gaps.js';

const T0 = Date.parse('2026-11-26T04:00:00Z');
let nextId = 1;
const id = () => (nextId++).toString(16).padStart(16, '0');
let nextTrace = 1;
const traceId = () => (nextTrace++).toString(16).padStart(32, '0');

function span(trace: string, partial: Partial<GapSpan> & Pick<GapSpan, 'service' | 'kind'>): GapSpan {
  return { traceId: trace, spanId: id(), parentId: null, name: `${partial.kind} span`, timeMs: T0, durationMs: 10, ...partial };
}

/** proxy SERVER → proxy CLIENT → api SERVER (called at api:3000) → api CLIENT (postgres, external) */
function completeTrace(trace = traceId(), timeMs = T0): GapSpan[] {
  const root = span(trace, { service: 'proxy', kind: 'server', name: 'GET /users/:id', timeMs, peer: 'proxy:80' });
  const hop = span(trace, { service: 'proxy', kind: 'client', parentId: root.spanId, peer: 'api:3000', timeMs });
  const api = span(trace, { service: 'api', kind: 'server', parentId: hop.spanId, peer: 'api:3000', timeMs });
  const db = span(trace, { service: 'api', kind: 'client', parentId: api.spanId, peer: 'postgres:5432', external: true, timeMs });
  return [root, hop, api, db];
}

/** An api request (SERVER span, 100 ms) with a call under it, in one process. */
function apiRequest(call: Partial<GapSpan> & Pick<GapSpan, 'kind'>, process = 'host-a/100', timeMs = T0): GapSpan[] {
  const trace = traceId();
  const server = span(trace, { service: 'api', kind: 'server', name: 'POST /orders', timeMs, durationMs: 100, process, peer: 'localhost:3000' });
  return [server, span(trace, { service: 'api', parentId: server.spanId, process, timeMs: timeMs + 5, ...call })];
}

const window = { startMs: T0 - 60_000, endMs: T0 + 60_000 };

/** A proxy request whose call to `peer` got no answer. */
function down(reason: GapSpan['unreachable'], peer = 'localhost:3000'): GapSpan[] {
  const trace = traceId();
  const root = span(trace, { service: 'proxy', kind: 'server' });
  return [root, span(trace, { service: 'proxy', kind: 'client', parentId: root.spanId, peer, unreachable: reason })];
}

function classify(fields: Partial<Record<GapField, unknown>>): GapSpan['unreachable'] {
  return gapSpanFromFields((f) => ({ 'span.kind': 'client', 'http.request.method': 'GET', ...fields })[f], { timeMs: T0 }).unreachable;
}

function readUntraced(value: unknown): string[] | undefined {
  return gapSpanFromFields((f) => ({ 'span.kind': 'server', 'waggle.untraced_libraries': value })[f as string], { timeMs: T0 }).untracedLibraries;
}

const inOwnDataset = (s: GapSpan): GapSpan => ({ ...s, dataset: s.service });

describe('gaps report: uninstrumented hops', () => {
  it('a complete trace yields no finding of any class and full coverage on its edge', () => {
    const report = computeGaps(completeTrace(), window);
    expect(report.uninstrumentedHops).toEqual([]);
    expect(report.calleeUnreachable).toEqual([]);
    expect(report.lostCalleeSpans).toEqual([]);
    expect(report.contextLost).toEqual([]);
    expect(report.orphanSpans).toEqual([]);
    expect(report.rootlessTraces.count).toBe(0);
    expect(report.untracedLibraries).toEqual([]);
    expect(report.silentServices).toEqual([]);
    expect(report.edges).toEqual([expect.objectContaining({ from: 'proxy', to: 'api', peer: 'api:3000', calls: 1, covered: 1, coveragePercent: 100 })]);
  });

  it('an answered client call whose callee sent no server span is an uninstrumented hop named by server.address', () => {
    const spans = completeTrace();
    const api = spans[2]!;
    spans.push(span(api.traceId, { service: 'api', kind: 'client', parentId: api.spanId, peer: 'legacy-billing:8080' }));
    const report = computeGaps([...spans, ...completeTrace()], window);
    expect(report.uninstrumentedHops).toEqual([{ service: 'api', peer: 'legacy-billing:8080', kind: 'client', count: 1, exampleTraceId: api.traceId }]);
    expect(report.edges.find((e) => e.peer === 'legacy-billing:8080')).toMatchObject({ from: 'api', to: 'legacy-billing:8080', calls: 1, covered: 0, coveragePercent: 0 });
    expect(report.edges.find((e) => e.to === 'api')).toMatchObject({ calls: 2, covered: 2, coveragePercent: 100 });
  });

  it('a producer span with no consumer span, on a destination nobody consumes, is a hop named by its destination', () => {
    const trace = traceId();
    const root = span(trace, { service: 'api', kind: 'server' });
    const produce = span(trace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const report = computeGaps([root, produce], window);
    expect(report.uninstrumentedHops).toEqual([{ service: 'api', peer: 'emails', kind: 'producer', count: 1, exampleTraceId: trace }]);
  });

  it('a producer whose job was consumed in a linked trace (link mode, batch receive) is covered, not a hop', () => {
    const trace = traceId();
    const root = span(trace, { service: 'api', kind: 'server' });
    const send = span(trace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const report = computeGaps([root, send], window, [{ fromService: 'worker', toSpanId: send.spanId }]);
    expect(report.uninstrumentedHops).toEqual([]);
    expect(report.edges).toEqual([expect.objectContaining({ from: 'api', to: 'worker', peer: 'emails', coveragePercent: 100 })]);
  });

  it('messages still queued for a destination an instrumented consumer reads are not a hop', () => {
    const consumedTrace = traceId();
    const root = span(consumedTrace, { service: 'api', kind: 'server' });
    const send = span(consumedTrace, { service: 'api', kind: 'producer', parentId: root.spanId, peer: 'emails' });
    const process = span(consumedTrace, { service: 'worker', kind: 'consumer', parentId: send.spanId, peer: 'emails' });
    const queuedTrace = traceId();
    const root2 = span(queuedTrace, { service: 'api', kind: 'server' });
    const queued = span(queuedTrace, { service: 'api', kind: 'producer', parentId: root2.spanId, peer: 'emails' });
    const lostTrace = traceId();
    const root3 = span(lostTrace, { service: 'api', kind: 'server' });
    const unread = span(lostTrace, { service: 'api', kind: 'producer', parentId: root3.spanId, peer: 'audit-log' });
    const report = computeGaps([root, send, process, root2, queued, root3, unread], window);
    expect(report.uninstrumentedHops).toEqual([expect.objectContaining({ service: 'api', peer: 'audit-log', kind: 'producer', count: 1 })]);
    expect(report.edges.find((e) => e.peer === 'emails')).toMatchObject({ to: 'worker', calls: 1, covered: 1, coveragePercent: 100 });
  });

  it('traces still arriving inside the settle time are not judged', () => {
    const trace = traceId();
    const root = span(trace, { service: 'api', kind: 'server', timeMs: window.endMs - 1000 });
    const call = span(trace, { service: 'api', kind: 'client', parentId: root.spanId, peer: 'svc:80', timeMs: window.endMs - 1000 });
    const report = computeGaps([root, call], window);
    expect(report.uninstrumentedHops).toEqual([]);
    expect(report.traces).toBe(0);
  });
});

describe('gaps report: callee unreachable', () => {
  it('refused, reset, timed-out and unresolved calls are reported apart from hops, with the callee when it is known', () => {
    // api answers at localhost:3000 (its own server spans say so), then crash-loops: the proxy's calls are refused.
    const up = completeTrace().map((s) => (s.peer === 'api:3000' ? { ...s, peer: 'localhost:3000' } : s));
    const report = computeGaps([...up, ...down('refused'), ...down('refused'), ...down('reset'), ...down('timeout'), ...down('dns', 'billing.internal:443')], window);
    expect(report.uninstrumentedHops).toEqual([]);
    expect(report.lostCalleeSpans).toEqual([]);
    expect(report.calleeUnreachable).toEqual([
      expect.objectContaining({ service: 'proxy', peer: 'localhost:3000', callee: 'api', reason: 'refused', count: 2 }),
      expect.objectContaining({ service: 'proxy', peer: 'localhost:3000', callee: 'api', reason: 'reset', count: 1 }),
      expect.objectContaining({ service: 'proxy', peer: 'localhost:3000', callee: 'api', reason: 'timeout', count: 1 }),
      expect.objectContaining({ service: 'proxy', peer: 'billing.internal:443', callee: null, reason: 'dns', count: 1 }),
    ]);
    // Coverage is about calls that reached something: the refused ones do not lower it.
    expect(report.edges).toEqual([expect.objectContaining({ from: 'proxy', to: 'api', calls: 1, covered: 1, coveragePercent: 100 })]);
  });

  it('a call that failed after the callee received it (its server span exists) is covered, not unreachable', () => {
    const [root, hop, api] = completeTrace();
    const report = computeGaps([root!, { ...hop!, unreachable: 'reset' }, api!], window);
    expect(report.calleeUnreachable).toEqual([]);
    expect(report.edges).toEqual([expect.objectContaining({ to: 'api', covered: 1 })]);
  });

  it('error.type values of Node, undici and the proxy instrumentation are classified; an answered call never is', () => {
    expect(classify({ 'error.type': 'ECONNREFUSED' })).toBe('refused');
    expect(classify({ 'error.type': 'connect_refused' })).toBe('refused');
    expect(classify({ 'error.type': 'ECONNRESET' })).toBe('reset');
    expect(classify({ 'error.type': 'UND_ERR_SOCKET' })).toBe('reset');
    expect(classify({ 'error.type': 'UND_ERR_CONNECT_TIMEOUT' })).toBe('timeout');
    expect(classify({ 'error.type': 'response_timeout' })).toBe('timeout');
    expect(classify({ 'error.type': 'ENOTFOUND' })).toBe('dns');
    expect(classify({ 'error.type': 'dns_failure' })).toBe('dns');
    expect(classify({ 'error.type': 'EHOSTUNREACH' })).toBe('unreachable');
    expect(classify({ 'error.type': 'aborted' })).toBe('no_response');
    expect(classify({ 'error.type': '503', 'http.response.status_code': 503 })).toBeNull();
    expect(classify({ 'http.response.status_code': 200 })).toBeNull();
  });
});

describe('gaps report: lost callee spans', () => {
  it('an answered call to an address an instrumented service answers elsewhere is lost spans, not an uninstrumented hop', () => {
    const ok = completeTrace();
    // Same address, answered (200), but the api process crashed before exporting its span.
    const trace = traceId();
    const root = span(trace, { service: 'proxy', kind: 'server' });
    const hop = span(trace, { service: 'proxy', kind: 'client', parentId: root.spanId, peer: 'api:3000' });
    const report = computeGaps([...ok, root, hop], window);
    expect(report.uninstrumentedHops).toEqual([]);
    expect(report.lostCalleeSpans).toEqual([{ service: 'proxy', peer: 'api:3000', callee: 'api', count: 1, exampleTraceId: trace }]);
    expect(report.edges).toEqual([expect.objectContaining({ from: 'proxy', to: 'api', calls: 2, covered: 1, coveragePercent: 50 })]);
  });
});

describe('gaps report: context lost', () => {
  it('a local-root PRODUCER span started while its process served a request is context lost, per service and span name', () => {
    const [server] = apiRequest({ kind: 'client', name: 'SELECT', peer: 'pg:5432', external: true });
    const lostTrace = traceId();
    const add = span(lostTrace, { service: 'api', kind: 'producer', name: 'add emails', peer: 'emails', process: 'host-a/100', timeMs: server!.timeMs + 20 });
    const report = computeGaps([server!, add], window);
    expect(report.contextLost).toEqual([{ service: 'api', kind: 'producer', name: 'add emails', count: 1, total: 1, cause: 'request_in_flight', exampleTraceId: lostTrace }]);
  });

  it('whether a request was in flight does not depend on the order spans arrive in', () => {
    // Requests read out of time order (early, late, then the one in flight): the lost call is inside the last.
    const [long] = apiRequest({ kind: 'client', name: 'SELECT', peer: 'pg:5432', external: true }, 'host-a/100', T0);
    const [early] = apiRequest({ kind: 'client', name: 'SELECT', peer: 'pg:5432', external: true }, 'host-a/100', T0 - 10_000);
    const [late] = apiRequest({ kind: 'client', name: 'SELECT', peer: 'pg:5432', external: true }, 'host-a/100', T0 + 10_000);
    const lost = span(traceId(), { service: 'api', kind: 'producer', name: 'add emails', peer: 'emails', process: 'host-a/100', timeMs: T0 + 90 });
    const report = computeGaps([early!, late!, lost, long!], window);
    expect(report.contextLost).toEqual([expect.objectContaining({ name: 'add emails', count: 1 })]);
  });

  it('a local-root call made at startup (nothing in flight) or while another process of the service was busy is not', () => {
    const [server] = apiRequest({ kind: 'client', name: 'SELECT', peer: 'pg:5432', external: true }, 'host-a/100');
    const startup = span(traceId(), { service: 'api', kind: 'client', name: 'SELECT information_schema.tables', external: true, peer: 'pg:5432', process: 'host-a/100', timeMs: T0 - 30_000 });
    const otherProcess = span(traceId(), { service: 'api', kind: 'producer', name: 'add emails', peer: 'emails', process: 'host-b/200', timeMs: server!.timeMs + 20 });
    const report = computeGaps([server!, startup, otherProcess], window);
    expect(report.contextLost).toEqual([]);
  });

  it('a service that sends no server or consumer spans (a worker whose jobs are not traced) has every outgoing call reported', () => {
    const calls = [0, 1, 2].map((i) => span(traceId(), { service: 'worker', kind: 'client', name: 'GET', peer: 'api:3000', process: 'w/1', timeMs: T0 + i * 1000 }));
    const answered = calls.map((c) => span(c.traceId, { service: 'api', kind: 'server', parentId: c.spanId, peer: 'api:3000', timeMs: c.timeMs }));
    const report = computeGaps([...calls, ...answered], window);
    expect(report.contextLost).toEqual([expect.objectContaining({ service: 'worker', kind: 'client', name: 'GET', count: 3, total: 3, cause: 'no_entry_spans' })]);
    // The calls themselves reached api: no hop.
    expect(report.uninstrumentedHops).toEqual([]);
  });
});

describe('gaps report: orphans, rootless traces, silent services', () => {
  it('a span whose parent never arrived is an orphan, attributed to its caller when known', () => {
    const trace = traceId();
    // The proxy forwarded traceparent but its own spans never arrived.
    const apiServer = span(trace, { service: 'api', kind: 'server', name: 'GET /users/:id', parentId: 'f'.repeat(16), caller: '10.0.0.7' });
    const db = span(trace, { service: 'api', kind: 'client', parentId: apiServer.spanId, peer: 'postgres:5432', external: true });
    const report = computeGaps([apiServer, db], window);
    expect(report.orphanSpans).toEqual([{ service: 'api', name: 'GET /users/:id', caller: '10.0.0.7', count: 1, exampleTraceId: trace }]);
    expect(report.rootlessTraces).toEqual({ count: 1, exampleTraceIds: [trace] });
    // Database calls never produce server spans: they are not reported as hops.
    expect(report.uninstrumentedHops).toEqual([]);
  });

  it('a service whose spans stopped well before the others is reported as silent', () => {
    const early = completeTrace(traceId(), T0 - 50_000).map((s) => (s.service === 'api' ? s : { ...s, service: 'worker' }));
    const late = span(traceId(), { service: 'proxy', kind: 'server', timeMs: T0 + 40_000 });
    const report = computeGaps([...early, late], { ...window, silenceMs: 30_000 });
    expect(report.silentServices.map((s) => s.service).toSorted()).toEqual(['api', 'worker']);
  });
});

describe('gaps report: untraced libraries', () => {
  it('libraries the SDK reported as untraced are summed per service, with the processes that reported them', () => {
    const entry = 'bullmq@1.15.1 (Waggle traces >=2.0.0 <7)';
    const worker = (process: string) => span(traceId(), { service: 'worker', kind: 'client', name: 'GET', peer: 'api:3000', process, untracedLibraries: [entry] });
    const clean = completeTrace();
    const report = computeGaps([worker('w/1'), worker('w/1'), worker('w/2'), ...clean], window);
    expect(report.untracedLibraries).toEqual([
      expect.objectContaining({ service: 'worker', library: 'bullmq', version: '1.15.1', note: 'Waggle traces >=2.0.0 <7', processes: 2, count: 3 }),
    ]);
  });

  it('the resource attribute is read whether it arrives as an array or as JSON text, scoped names included', () => {
    expect(readUntraced('["@scope/lib@2.0.0 (no instrumentation)"]')).toEqual(['@scope/lib@2.0.0 (no instrumentation)']);
    expect(readUntraced(['bullmq@1.15.1'])).toEqual(['bullmq@1.15.1']);
    expect(readUntraced(undefined)).toBeUndefined();
    const report = computeGaps([{ ...span(traceId(), { service: 's', kind: 'server' }), untracedLibraries: readUntraced('["@scope/lib@2.0.0 (no instrumentation)"]') }], window);
    expect(report.untracedLibraries).toEqual([expect.objectContaining({ library: '@scope/lib', version: '2.0.0', note: 'no instrumentation' })]);
  });
});

describe('gaps report: a short list a person reads', () => {
  it('loopback names and addresses are one host, and the ports of a known callee fold into one edge', () => {
    const spans: GapSpan[] = [];
    // A test run: api servers on three ephemeral ports, called as localhost, 127.0.0.1 and [::1].
    for (const [host, port] of [['localhost', 41001], ['127.0.0.1', 41001], ['[::1]', 41002], ['127.0.0.1', 41003]] as const) {
      const trace = traceId();
      const root = span(trace, { service: 'proxy', kind: 'server' });
      const fields: Partial<Record<GapField, unknown>> = { 'trace.trace_id': trace, 'trace.parent_id': root.spanId, 'trace.span_id': id(), 'service.name': 'proxy', 'span.kind': 'client', 'server.address': host, 'server.port': port, 'http.request.method': 'GET', 'http.response.status_code': 200 };
      const call = gapSpanFromFields((f) => fields[f], { timeMs: T0 });
      spans.push(root, call, span(trace, { service: 'api', kind: 'server', parentId: call.spanId, peer: `localhost:${port}` }));
    }
    // Two uninstrumented servers on ephemeral ports: their ports are all that names them, so they stay apart.
    for (const port of [42001, 42002]) {
      const trace = traceId();
      const root = span(trace, { service: 'proxy', kind: 'server' });
      spans.push(root, span(trace, { service: 'proxy', kind: 'client', parentId: root.spanId, peer: `localhost:${port}` }));
    }
    const report = computeGaps(spans, window);
    expect(spans[1]!.peer).toBe('localhost:41001');
    expect(report.edges.find((e) => e.to === 'api')).toMatchObject({ from: 'proxy', peer: 'localhost:* (3 ports)', calls: 4, covered: 4 });
    expect(report.uninstrumentedHops.map((h) => h.peer).toSorted()).toEqual(['localhost:42001', 'localhost:42002']);
    expect(report.edges).toHaveLength(3);
  });
});

describe('gaps report: --dataset', () => {
  it('reports only the dataset\'s own findings, while callees in other datasets still count as covering its calls', () => {
    const trace = traceId();
    const spans = completeTrace(trace).map(inOwnDataset);
    const api = spans[2]!;
    spans.push(inOwnDataset(span(trace, { service: 'api', kind: 'client', parentId: api.spanId, peer: 'legacy:8080' })));
    const proxyOrphan = inOwnDataset(span(traceId(), { service: 'proxy', kind: 'server', parentId: 'e'.repeat(16) }));
    const all = computeGaps([...spans, proxyOrphan], window);
    const apiOnly = computeGaps([...spans, proxyOrphan], { ...window, dataset: 'api' });
    expect(all.orphanSpans.map((o) => o.service)).toEqual(['proxy']);
    expect(apiOnly.dataset).toBe('api');
    expect(apiOnly.spans).toBe(3);
    expect(apiOnly.orphanSpans).toEqual([]);
    expect(apiOnly.rootlessTraces.count).toBe(0);
    expect(apiOnly.uninstrumentedHops).toEqual([expect.objectContaining({ service: 'api', peer: 'legacy:8080' })]);
    // proxy → api is proxy's edge, and proxy's spans are not reported under --dataset api.
    expect(apiOnly.edges.map((e) => e.from)).toEqual(['api']);
    const proxyOnly = computeGaps([...spans, proxyOrphan], { ...window, dataset: 'proxy' });
    expect(proxyOnly.uninstrumentedHops).toEqual([]);
    expect(proxyOnly.edges).toEqual([expect.objectContaining({ from: 'proxy', to: 'api', coveragePercent: 100 })]);
  });
});

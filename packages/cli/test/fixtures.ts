// Generated traces with known answers, sent to a real backend over OTLP/protobuf.
import { encodeTraceRequest, type AnyValue, type Span, type TracesData } from '@waggle/otlp';

let counter = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
export const newTraceId = () => hex(++counter, 8).padStart(32, 'a');
const newSpanId = () => hex(++counter, 16);

interface SpanInput {
  traceId: string;
  parent?: Span;
  name: string;
  kind: Span['kind'];
  startMs: number;
  durationMs: number;
  attributes?: Record<string, AnyValue>;
  error?: boolean;
  /** Spans this one links to (a queue consumer's link to the send). */
  links?: Span[];
}

export function span(s: SpanInput): Span {
  const start = BigInt(Math.round(s.startMs * 1e6));
  return {
    traceId: s.traceId,
    spanId: newSpanId(),
    parentSpanId: s.parent?.spanId ?? '',
    traceState: '',
    flags: 1,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round(s.durationMs * 1e6)),
    attributes: s.attributes ?? {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 1 })),
    droppedLinksCount: 0,
    status: { code: s.error ? 2 : 0, message: '' },
  };
}

export interface ServiceSpans {
  service: string;
  version?: string;
  /** More resource attributes (the SDK's untraced-library report, process identity). */
  resource?: Record<string, AnyValue>;
  spans: Span[];
}

export function tracesData(groups: ServiceSpans[]): TracesData {
  return {
    resourceSpans: groups.map((g) => ({
      resource: { attributes: { 'service.name': g.service, ...(g.version ? { 'service.version': g.version } : {}), ...g.resource }, droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{ scope: { name: 'fixture', version: '1', attributes: {} }, schemaUrl: '', spans: g.spans }],
    })),
  };
}

export async function send(url: string, data: TracesData, headers: Record<string, string> = {}): Promise<void> {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', ...headers }, body: new Uint8Array(encodeTraceRequest(data, 'protobuf')) });
  if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
}

export interface Scenario {
  data: TracesData;
  /** A trace with a proxy → api hop and a database call. */
  fullTraceId: string;
  /** Weighted counts per route. */
  counts: Record<string, number>;
}

/**
 * 100 `/users/:id` requests on api (90 fast on v41, 10 slow on v42 — the planted cause), 40 `/orders`
 * requests sampled at 1/2 that each call an uninstrumented `legacy:8080`, and 20 proxy → api hops.
 */
export function incidentScenario(now = Date.now()): Scenario {
  const v41: Span[] = [];
  const v42: Span[] = [];
  const proxy: Span[] = [];
  let fullTraceId = '';
  for (let i = 0; i < 100; i++) {
    const traceId = newTraceId();
    const slow = i % 10 === 0;
    const startMs = now - 240_000 + i * 1000;
    const server = span({ traceId, name: 'GET /users/:id', kind: 2, startMs, durationMs: slow ? 1000 + (i % 10) + i / 100 : 10 + (i % 7), attributes: { 'http.route': '/users/:id', 'http.response.status_code': 200 } });
    const db = span({ traceId, parent: server, name: 'SELECT users', kind: 3, startMs: startMs + 1, durationMs: 3, attributes: { 'db.system.name': 'postgresql', 'server.address': '127.0.0.1', 'server.port': 5432 } });
    (slow ? v42 : v41).push(server, db);
  }
  for (let i = 0; i < 40; i++) {
    const traceId = newTraceId();
    const startMs = now - 200_000 + i * 1000;
    const server = span({ traceId, name: 'POST /orders', kind: 2, startMs, durationMs: 20, attributes: { 'http.route': '/orders', 'http.response.status_code': 201, SampleRate: 2 } });
    const call = span({ traceId, parent: server, name: 'GET', kind: 3, startMs: startMs + 2, durationMs: 8, attributes: { 'server.address': 'legacy', 'server.port': 8080, 'http.request.method': 'GET', 'http.response.status_code': 200, SampleRate: 2 } });
    v41.push(server, call);
  }
  for (let i = 0; i < 20; i++) {
    const traceId = newTraceId();
    const startMs = now - 150_000 + i * 1000;
    const edge = span({ traceId, name: 'GET /users/:id', kind: 2, startMs, durationMs: 30, attributes: { 'http.route': '/users/:id' } });
    const hop = span({ traceId, parent: edge, name: 'GET', kind: 3, startMs: startMs + 1, durationMs: 25, attributes: { 'server.address': 'api', 'server.port': 3000, 'http.request.method': 'GET', 'http.response.status_code': 200, 'http.request.resend_count': 0 } });
    proxy.push(edge, hop);
    const apiServer = span({ traceId, parent: hop, name: 'GET /users/:id', kind: 2, startMs: startMs + 2, durationMs: 20, attributes: { 'http.route': '/users/:id', 'http.response.status_code': 200 } });
    const db = span({ traceId, parent: apiServer, name: 'SELECT users', kind: 3, startMs: startMs + 3, durationMs: 2, error: i === 0, attributes: { 'db.system.name': 'postgresql' } });
    v41.push(apiServer, db);
    if (i === 0) fullTraceId = traceId;
  }
  return {
    data: tracesData([
      { service: 'api', version: 'v41', spans: v41 },
      { service: 'api', version: 'v42', spans: v42 },
      { service: 'proxy', spans: proxy },
    ]),
    fullTraceId,
    // api server spans per route, weighted by SampleRate
    counts: { '/users/:id': 120, '/orders': 80 },
  };
}

export interface LinkedScenario {
  data: TracesData;
  /** shop: POST /checkout → add emails (PRODUCER). */
  requestTraceId: string;
  /** mailer: process emails (CONSUMER, a trace of its own) linked to the add span, 250 ms later. */
  jobTraceId: string;
}

/** A request that enqueues a job, and the job run in a trace of its own linked to the send (BullMQ's default). */
export function linkedScenario(now = Date.now()): LinkedScenario {
  const requestTraceId = newTraceId();
  const startMs = now - 120_000;
  const server = span({ traceId: requestTraceId, name: 'POST /checkout', kind: 2, startMs, durationMs: 40, attributes: { 'http.route': '/checkout', 'http.response.status_code': 201 } });
  const add = span({ traceId: requestTraceId, parent: server, name: 'add emails', kind: 4, startMs: startMs + 10, durationMs: 5, attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': 'emails' } });
  const jobTraceId = newTraceId();
  const process = span({ traceId: jobTraceId, name: 'process emails', kind: 5, startMs: startMs + 265, durationMs: 30, links: [add], attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': 'emails', 'waggle.queue.wait_ms': 250 } });
  const smtp = span({ traceId: jobTraceId, parent: process, name: 'POST', kind: 3, startMs: startMs + 270, durationMs: 20, attributes: { 'server.address': 'smtp.example', 'server.port': 443, 'http.request.method': 'POST', 'http.response.status_code': 250 } });
  return {
    data: tracesData([{ service: 'shop', spans: [server, add] }, { service: 'mailer', spans: [process, smtp] }]),
    requestTraceId,
    jobTraceId,
  };
}

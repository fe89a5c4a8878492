// Real SDK spans covering every OTLP field, shared by the codec tests and the benchmark's shape.
import { SpanKind, SpanStatusCode, TraceFlags, context, trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export function makeProvider(serviceName: string): { provider: TracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.version': '1.2.3', 'host.cores': 2 }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return { provider, exporter };
}

/** Spans from two resources and three scopes, with every attribute type, events, links, status, kinds. */
export async function makeSdkSpans(): Promise<ReadableSpan[]> {
  const a = makeProvider('checkout');
  const b = makeProvider('payments');
  const http = a.provider.getTracer('http-scope', '0.9.1', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const db = a.provider.getTracer('db-scope');
  const pay = b.provider.getTracer('pay-scope', '2.0.0');

  const remoteParent = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=x'),
  });

  const server = http.startSpan(
    'GET /users/:id',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        'http.route': '/users/:id',
        'server.ratio': 0.25,
        'negative.int': -42,
        'big.int': 2 ** 40 + 7,
        'flag.ok': true,
        'flag.bad': false,
        'list.str': ['a', 'b', 'ünïcødé'],
        'list.num': [1, 2.5, -3],
        'list.bool': [true, false],
        'unicode.value': '日本語 ✓ emoji 🐝',
        'empty.string': '',
        'long.string': 'x'.repeat(300),
      },
    },
    remoteParent,
  );
  server.addEvent('cache miss', { 'cache.key': 'user:1', 'cache.size': 12 });
  server.addEvent('no attributes');
  const serverCtx = trace.setSpan(context.active(), server);
  const query = db.startSpan(
    'SELECT users',
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM users WHERE id = $1' },
      links: [
        { context: { traceId: '11111111111111111111111111111111', spanId: '2222222222222222', traceFlags: 0 }, attributes: { 'link.kind': 'batch' } },
        { context: { traceId: 'abcdefabcdefabcdefabcdefabcdef01', spanId: 'abcdefabcdef0123', traceFlags: 1, isRemote: true } },
      ],
    },
    serverCtx,
  );
  query.setStatus({ code: SpanStatusCode.ERROR, message: 'connection reset' });
  query.recordException(new Error('boom'));
  query.end();
  const internal = http.startSpan('render', { kind: SpanKind.INTERNAL }, serverCtx);
  internal.setStatus({ code: SpanStatusCode.OK });
  internal.end();
  server.end();

  for (const kind of [SpanKind.PRODUCER, SpanKind.CONSUMER]) {
    const s = pay.startSpan(kind === SpanKind.PRODUCER ? 'publish orders' : 'process orders', { kind, attributes: { 'messaging.system': 'rabbitmq' } });
    s.end();
  }
  await a.provider.forceFlush();
  await b.provider.forceFlush();
  return [...a.exporter.getFinishedSpans(), ...b.exporter.getFinishedSpans()];
}

/** Many spans from one tracer, for the fuzz corpus. */
export function makeManySpans(tracer: Tracer, n: number): void {
  for (let i = 0; i < n; i++) {
    const s = tracer.startSpan(`op-${i}`, { attributes: { i, 'k.s': `v${i}`, 'k.d': i / 3 } });
    s.addEvent('e', { n: i });
    s.end();
  }
}

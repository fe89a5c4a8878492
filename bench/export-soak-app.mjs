// The traced app for export-soak.mjs: a node:http server creating a server span and two child spans per request
// (the same work for both SDKs), exporting to BACKEND_URL with either Waggle's pipeline or stock OpenTelemetry
// (BatchSpanProcessor + OTLP/proto exporter), or not exporting at all (`none`, the control). Reports memory over IPC.
import http from 'node:http';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

const sdk = process.argv[2];
const backendUrl = process.argv[3];
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

let processor;
if (sdk === 'none') {
  // Control: the same SDK, spans and context work, but nothing is queued or exported. Shows how much RSS growth
  // the tracing layer itself causes (V8 sizing its young generation to request-scoped span and context objects).
  processor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} };
} else if (sdk === 'waggle') {
  const { createExportPipeline } = await import('../packages/node/dist/export/index.js');
  processor = await createExportPipeline({ destination: { url: backendUrl, protocol: 'http/protobuf', headers: {}, timeoutMs: 10_000 } });
} else {
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  processor = new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: backendUrl }) });
}
const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': `soak-${sdk}` }), spanProcessors: [processor] });
const tracer = provider.getTracer('soak');

const server = http.createServer((req, res) => {
  tracer.startActiveSpan(
    'GET /orders/:id',
    { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': req.url, 'http.route': '/orders/:id', 'user_agent.original': req.headers['user-agent'] ?? '' } },
    (span) => {
      const db = tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1' } });
      db.end();
      const render = tracer.startSpan('render');
      const body = JSON.stringify({ id: req.url, items: [1, 2, 3] });
      render.end();
      span.setAttribute('http.response.status_code', 200);
      res.setHeader('content-type', 'application/json');
      res.end(body, () => span.end());
    },
  );
});
server.listen(0, '127.0.0.1', () => {
  process.send({ type: 'ready', port: server.address().port });
});

const memory = setInterval(() => {
  const stats = typeof processor.stats === 'function' ? processor.stats() : undefined;
  process.send({ type: 'memory', rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed, stats });
}, 500);
process.on('message', async (msg) => {
  if (msg?.type !== 'stop') return;
  clearInterval(memory);
  server.close();
  // Bounded so a blackholed backend cannot keep the run alive.
  await Promise.race([provider.shutdown(), new Promise((r) => setTimeout(r, 3000))]);
  process.exit(0);
});

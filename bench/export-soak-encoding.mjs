#!/usr/bin/env node
// Is encoding spans in a worker thread worth it? Measures the main-thread time per span of
//   (a) @waggle/otlp encodeSpans (protobuf) on the main thread,
//   (b) the upstream ProtobufTraceSerializer on the main thread,
//   (c) handing the batch to a worker: the plain-object copy a worker needs (ReadableSpans carry methods and
//       class instances, which structured clone drops) plus postMessage's synchronous serialization.
// Writes its section of bench/RESULTS.md.   node bench/export-soak-encoding.mjs [--rounds 200]
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeSpans } from '@waggle/otlp';
import { createPreparer } from '../packages/node/dist/export/prepare.js';
import { createRedactor } from '../packages/node/dist/export/redact.js';
import { estimateSpanBytes } from '../packages/node/dist/export/queue.js';
import { createExportPipeline } from '../packages/node/dist/export/index.js';

const i = process.argv.indexOf('--rounds');
const rounds = i === -1 ? 200 : Number(process.argv[i + 1]);
const here = fileURLToPath(new URL('.', import.meta.url));
const BATCH = 512;

const memory = new InMemorySpanExporter();
const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench', 'host.name': 'h1', 'process.pid': 123 }), spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
const tracer = provider.getTracer('bench', '1.0.0');
for (let n = 0; n < BATCH / 3; n++) {
  const root = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': `/orders/${n}`, 'http.route': '/orders/:id', 'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) bench', 'http.response.status_code': 200, 'server.address': 'shop.local', 'network.peer.address': '10.0.0.7' } });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM orders WHERE id = $1', 'db.namespace': 'shop', 'server.port': 5432 } }, ctx).end();
  const render = tracer.startSpan('render', {}, ctx);
  render.addEvent('template loaded', { 'template.name': 'order' });
  render.setStatus({ code: SpanStatusCode.OK });
  render.end();
  root.end();
}
const spans = memory.getFinishedSpans();

/** What a worker would need: plain data only. */
function toPlain(s) {
  const c = s.spanContext();
  return {
    traceId: c.traceId, spanId: c.spanId, parentSpanId: s.parentSpanContext?.spanId, name: s.name, kind: s.kind,
    startTime: s.startTime, endTime: s.endTime, status: s.status, attributes: s.attributes,
    events: s.events, links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes })),
    resource: s.resource.attributes, scope: s.instrumentationScope,
  };
}

function timePerSpan(fn) {
  for (let r = 0; r < 20; r++) fn();
  const start = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) fn();
  return Number(process.hrtime.bigint() - start) / 1000 / (rounds * spans.length);
}

const worker = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.on("message", () => {});', { eval: true });
const results = {
  waggle: timePerSpan(() => encodeSpans(spans, 'protobuf')),
  upstream: timePerSpan(() => ProtobufTraceSerializer.serializeRequest(spans)),
  worker: timePerSpan(() => worker.postMessage(spans.map(toPlain))),
  prepare: (() => {
    const prepare = createPreparer({ redact: createRedactor() });
    return timePerSpan(() => spans.map(prepare));
  })(),
  estimate: timePerSpan(() => {
    let n = 0;
    for (const s of spans) n += estimateSpanBytes(s);
    return n;
  }),
};
// onEnd of the whole processor (request path), queue large enough that every call enqueues; nothing is sent.
const nowhere = 'http://127.0.0.1:9/v1/traces';
const waggleProcessor = await createExportPipeline({ destination: { url: nowhere, protocol: 'http/protobuf', headers: {}, timeoutMs: 1000 }, tuning: { maxQueueSpans: 200_000, maxQueueBytes: 2 ** 31, maxBatchSpans: 1_000_000, scheduledDelayMs: 3_600_000 } });
const bsp = new BatchSpanProcessor({ exporter: new InMemorySpanExporter(), maxQueueSize: 200_000, maxExportBatchSize: 1_000_000, scheduledDelayMillis: 3_600_000 });
const onEndRounds = Math.min(rounds, Math.floor(150_000 / spans.length));
function onEndPerSpan(processor) {
  for (const s of spans) processor.onEnd(s); // warm up
  const start = process.hrtime.bigint();
  for (let r = 0; r < onEndRounds; r++) for (const s of spans) processor.onEnd(s);
  return Number(process.hrtime.bigint() - start) / 1000 / (onEndRounds * spans.length);
}
results.onEndWaggle = onEndPerSpan(waggleProcessor);
results.onEndBsp = onEndPerSpan(bsp);
await Promise.race([waggleProcessor.shutdown(), new Promise((r) => setTimeout(r, 100))]);
await worker.terminate();
const bytes = encodeSpans(spans, 'protobuf').byteLength;

const section = [
  '<!-- export-encoding:start -->',
  '## @waggle/node — export encoding cost on the main thread (`bench/export-soak-encoding.mjs`)',
  '',
  `Batches of ${spans.length} realistic spans (3 per request, 4–7 attributes, one event), ${rounds} rounds, Node ${process.version}, ${new Date().toISOString()}. Main-thread time per span:`,
  '',
  '| approach | µs per span on the main thread |',
  '|---|---|',
  `| @waggle/otlp \`encodeSpans\` (protobuf), main thread | ${results.waggle.toFixed(2)} |`,
  `| upstream \`ProtobufTraceSerializer\`, main thread | ${results.upstream.toFixed(2)} |`,
  `| worker thread: plain copy + \`postMessage\` (encoding itself then runs in the worker) | ${results.worker.toFixed(2)} |`,
  `| for reference: limits + redaction per span (batch time) | ${results.prepare.toFixed(2)} |`,
  `| for reference: the byte estimate \`onEnd\` makes per span (request path) | ${results.estimate.toFixed(2)} |`,
  `| for reference: Waggle processor \`onEnd\` (request path) | ${results.onEndWaggle.toFixed(2)} |`,
  `| for reference: upstream BatchSpanProcessor \`onEnd\` (request path) | ${results.onEndBsp.toFixed(2)} |`,
  '',
  `Encoded size: ${(bytes / spans.length).toFixed(0)} bytes per span. Encoding happens at batch time, never in \`onEnd\`; a worker only pays off if handing a span over costs less than encoding it.`,
  '<!-- export-encoding:end -->',
].join('\n');
const resultsPath = `${here}RESULTS.md`;
let doc = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Benchmark results\n';
const re = /<!-- export-encoding:start -->[\s\S]*?<!-- export-encoding:end -->/;
doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsPath, doc);
console.log(section);

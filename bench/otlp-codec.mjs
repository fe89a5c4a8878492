// @waggle/otlp codec benchmark: encodeSpans vs upstream ProtobufTraceSerializer on real SDK spans,
// and decode throughput (protobuf and JSON). Writes the "@waggle/otlp" section of bench/RESULTS.md.
//
//   node bench/otlp-codec.mjs [--seconds 2] [--batch 512] [--no-write]
//
// Default is a short run (about 1 s per case); the lead's full run uses --seconds 5 on a quiet machine.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { decodeTraceRequest, encodeSpans } from '@waggle/otlp';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 1);
const BATCH = opt('batch', 512);
const WRITE = !args.includes('--no-write');

/** A batch shaped like an instrumented API server: per request a SERVER span, a DB CLIENT span, an HTTP CLIENT span. */
function makeBatch(n) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'orders-api',
      'service.version': '4.2.1',
      'deployment.environment.name': 'production',
      'host.name': 'ip-10-0-3-17',
      'process.pid': 4242,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'telemetry.sdk.name': 'opentelemetry',
      'telemetry.sdk.language': 'nodejs',
      'telemetry.sdk.version': '3.1.1',
    }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const http = provider.getTracer('@opentelemetry/instrumentation-http', '0.301.0');
  const pg = provider.getTracer('@opentelemetry/instrumentation-pg', '0.60.0');
  for (let i = 0; exporter.getFinishedSpans().length < n; i++) {
    const server = http.startSpan('GET /users/:id', {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'url.path': `/users/${i}`,
        'url.scheme': 'http',
        'http.route': '/users/:id',
        'http.response.status_code': 200,
        'server.address': 'orders.internal',
        'server.port': 8080,
        'client.address': '10.0.7.12',
        'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
        'network.protocol.version': '1.1',
        'app.user_id': 10_000 + i,
        'app.cache_hit_ratio': 0.83,
      },
    });
    const ctx = trace.setSpan(context.active(), server);
    const q = pg.startSpan('SELECT users', {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'postgresql',
        'db.namespace': 'orders',
        'db.query.text': 'SELECT id, name, email, created_at FROM users WHERE id = $1',
        'db.operation.name': 'SELECT',
        'server.address': '127.0.0.1',
        'server.port': 5432,
      },
    }, ctx);
    if (i % 10 === 0) {
      q.recordException(new Error('connection terminated unexpectedly'));
      q.setStatus({ code: SpanStatusCode.ERROR, message: 'connection terminated unexpectedly' });
    }
    q.end();
    const c = http.startSpan('GET', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'url.full': `http://profiles.internal/v1/profiles/${i}`, 'http.response.status_code': 200, 'server.address': 'profiles.internal' },
    }, ctx);
    c.addEvent('retry', { 'http.request.resend_count': 1 });
    c.end();
    server.end();
  }
  return exporter.getFinishedSpans().slice(0, n);
}

/** Runs fn repeatedly for about `seconds`; returns calls per second. */
function measure(fn, seconds) {
  for (let i = 0; i < 20; i++) fn(); // warm up
  let calls = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < 5; i++) fn();
    calls += 5;
  }
  return calls / ((performance.now() - start) / 1000);
}

const spans = makeBatch(BATCH);
const ours = encodeSpans(spans, 'protobuf');
// Decode cycles through distinct batches (fresh ids and values), as an ingest endpoint sees them.
const DISTINCT = 8;
const protoBodies = [ours];
const jsonBodies = [JsonTraceSerializer.serializeRequest(spans)];
for (let i = 1; i < DISTINCT; i++) {
  const more = makeBatch(BATCH);
  protoBodies.push(encodeSpans(more, 'protobuf'));
  jsonBodies.push(JsonTraceSerializer.serializeRequest(more));
}
let pi = 0;
let ji = 0;
const upstreamBytes = ProtobufTraceSerializer.serializeRequest(spans);
const jsonBytes = JsonTraceSerializer.serializeRequest(spans);

// Sanity: both encodings decode to the same content before anything is timed.
if (JSON.stringify(decodeTraceRequest(ours, 'protobuf'), (_k, v) => (typeof v === 'bigint' ? String(v) : v)) !==
    JSON.stringify(decodeTraceRequest(upstreamBytes, 'protobuf'), (_k, v) => (typeof v === 'bigint' ? String(v) : v))) {
  throw new Error('encodeSpans and upstream ProtobufTraceSerializer disagree on content');
}

const rows = [];
const rounds = 5; // alternate cases so background load hits both sides alike; best round counts
const results = {};
const cases = {
  'encodeSpans (protobuf)': () => encodeSpans(spans, 'protobuf'),
  'upstream ProtobufTraceSerializer': () => ProtobufTraceSerializer.serializeRequest(spans),
  'decodeTraceRequest (protobuf)': () => decodeTraceRequest(protoBodies[pi++ % DISTINCT], 'protobuf'),
  'decodeTraceRequest (json)': () => decodeTraceRequest(jsonBodies[ji++ % DISTINCT], 'json'),
};
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of Object.entries(cases)) {
    const perSec = measure(fn, SECONDS / rounds) * BATCH;
    results[name] = Math.max(results[name] ?? 0, perSec);
  }
}
for (const [name, perSec] of Object.entries(results)) rows.push([name, Math.round(perSec)]);
const ratio = results['encodeSpans (protobuf)'] / results['upstream ProtobufTraceSerializer'];

const fmt = (n) => n.toLocaleString('en-US');
console.log(`batch ${BATCH} spans, protobuf ${ours.length} B (upstream ${upstreamBytes.length} B), json ${jsonBytes.length} B`);
for (const [name, perSec] of rows) console.log(`${name.padEnd(36)} ${fmt(perSec).padStart(12)} spans/s`);
console.log(`encodeSpans / upstream: ${ratio.toFixed(2)}x`);

if (WRITE) {
  const file = new URL('./RESULTS.md', import.meta.url);
  const section = [
    '## @waggle/otlp',
    '',
    `\`node bench/otlp-codec.mjs --seconds ${SECONDS} --batch ${BATCH}\` — ${new Date().toISOString()}, Node ${process.version}, ` +
      `${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, @opentelemetry/otlp-transformer ` +
      `${JSON.parse(readFileSync(new URL('../node_modules/@opentelemetry/otlp-transformer/package.json', import.meta.url), 'utf8')).version}.`,
    `Batches of ${BATCH} real SDK spans (server + pg client + http client per request, 4–12 attributes, some events); ` +
      `protobuf body ${fmt(ours.length)} B (upstream ${fmt(upstreamBytes.length)} B), JSON ${fmt(jsonBytes.length)} B. ` +
      `Decoding cycles through ${DISTINCT} distinct batches. Best of ${rounds} alternating rounds; single thread.`,
    '',
    '| case | spans/s |',
    '|---|---:|',
    ...rows.map(([name, perSec]) => `| ${name} | ${fmt(perSec)} |`),
    '',
    `encodeSpans is ${ratio.toFixed(2)}× upstream ProtobufTraceSerializer.`,
    '',
  ].join('\n');
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n';
  const start = before.indexOf('## @waggle/otlp');
  let next;
  if (start >= 0) {
    next = before.indexOf('\n## ', start + 1);
    next = next < 0 ? before.length : next + 1;
  }
  const after = start >= 0 ? before.slice(0, start) + section + before.slice(next) : `${before.trimEnd()}\n\n${section}`;
  writeFileSync(file, after);
  console.log('wrote the @waggle/otlp section of bench/RESULTS.md');
}

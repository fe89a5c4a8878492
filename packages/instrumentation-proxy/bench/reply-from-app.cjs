// The benchmarked proxy: fastify + @fastify/reply-from forwarding `GET /` to an upstream. Run under
// `node --import @waggle/node/register`; the variants differ only in WAGGLE_INSTRUMENTATIONS (and BENCH_NO_EXPORT).
// Prints "listening <port>" like bench/overhead/app.cjs.
//   BENCH_UPSTREAM=http://host:port  proxy to that upstream, another process (as production proxies and API servers run)
//   (unset)                          start the upstream in this process (the bench's earlier layout): the process then
//                                    also pays the upstream's side of a traced request (its SERVER span, and when a
//                                    traceparent arrives, extracting it and the parent-based sampling)
//   BENCH_NO_EXPORT=1                spans are still recorded and go through every span processor but the export one,
//                                    whose onEnd does nothing: no queue, no encoding, no OTLP request
const http = require('node:http');
const Fastify = require('fastify');
const replyFrom = require('@fastify/reply-from');

// A profile (node --cpu-prof) is only written on a normal exit: the bench stops servers with SIGTERM.
process.once('SIGTERM', () => process.exit(0));

if (process.env.BENCH_NO_EXPORT === '1') silenceExport();

async function proxy(base) {
  const app = Fastify({ logger: false });
  app.register(replyFrom, { base });
  app.get('/', (_req, reply) => reply.from('/'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`listening ${app.server.address().port}\n`);
}

if (process.env.BENCH_UPSTREAM) {
  proxy(process.env.BENCH_UPSTREAM);
} else {
  const upstream = http.createServer((_req, res) => res.end('ok'));
  upstream.listen(0, '127.0.0.1', () => proxy(`http://127.0.0.1:${upstream.address().port}`));
}

/**
 * Makes Waggle's export processor (the one span processor that counts ended spans, `endedCount`) a no-op, so a span
 * costs its recording and the other processors but not its export. Reaches into the SDK's provider: bench only.
 */
function silenceExport() {
  const api = require('@opentelemetry/api');
  const provider = api.trace.getTracerProvider();
  const sdk = typeof provider.getDelegate === 'function' ? provider.getDelegate() : provider;
  const processors = sdk._activeSpanProcessor?._spanProcessors ?? [];
  const exporting = processors.find((p) => typeof p.endedCount === 'number');
  if (exporting === undefined) throw new Error('BENCH_NO_EXPORT: the export span processor was not found');
  exporting.onStart = () => {};
  exporting.onEnding = () => {};
  exporting.onEnd = () => {};
}

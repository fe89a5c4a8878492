// Benchmark: what a proxied request costs with ProxyInstrumentation, end to end.
//   node bench/overhead.mjs                       full run (10 s per mode), rewrites this package's
//                                                 section of <repo>/bench/RESULTS.md
//   BENCH_DURATION_S=1 BENCH_RESULTS=/tmp/r.md node bench/overhead.mjs   a short proof run
// Modes, each in its own process: fastify + @fastify/reply-from proxying to a loopback upstream with
// (a) the http instrumentation only, (b) http + ProxyInstrumentation. Spans go to a discarding
// exporter through a BatchSpanProcessor, as in production. Needs the package built (dist/).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const HERE = fileURLToPath(import.meta.url);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = 10;
const RESULTS = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('../../../bench/RESULTS.md', import.meta.url));
const SECTION = '## @waggle/instrumentation-proxy';

if (process.argv[2] === '--serve') await serve(process.argv[3]);
else await main();

async function serve(mode) {
  const { context, propagation, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core');
  const { BatchSpanProcessor, TracerProvider } = require('@opentelemetry/sdk-trace');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
  const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: discard })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  new HttpInstrumentation().setTracerProvider(provider);
  if (mode === 'proxy') {
    const { ProxyInstrumentation } = await import('../dist/index.js');
    new ProxyInstrumentation({ warnOnRetryStorm: false }).setTracerProvider(provider);
  }
  const http = require('node:http');
  const upstream = http.createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const fastify = require('fastify')({ logger: false });
  fastify.register(require('@fastify/reply-from'), { base: `http://127.0.0.1:${upstream.address().port}` });
  fastify.get('/', (_req, reply) => reply.from('/'));
  const url = await fastify.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`URL ${url}\n`);
}

async function main() {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) throw new Error('build the package first (npm run build)');
  const rows = [];
  rows.push(['AmplificationMonitor.record (50 upstreams)', `${await microRecord()} ns/op`, '', '']);
  const results = {};
  for (const mode of ['http-only', 'proxy']) results[mode] = await endToEnd(mode);
  for (const [mode, r] of Object.entries(results)) {
    rows.push([mode === 'proxy' ? 'reply-from proxy, http + ProxyInstrumentation' : 'reply-from proxy, http instrumentation only', `${r.rps} req/s`, `${r.p50} ms`, `${r.p99} ms`]);
  }
  const overhead = (1 - results.proxy.rps / results['http-only'].rps) * 100;
  const table = [
    SECTION,
    '',
    `Run ${new Date().toISOString()}, Node ${process.version}, ${DURATION_S} s per mode, ${CONNECTIONS} connections (autocannon), upstream and proxy on loopback in one process.`,
    '',
    '| case | throughput | p50 | p99 |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Throughput cost of ProxyInstrumentation over the http instrumentation alone: ${overhead.toFixed(1)} %.`,
    '',
  ].join('\n');
  writeSection(table);
  process.stdout.write(`${table}\n(written to ${RESULTS})\n`);
}

async function microRecord() {
  const { AmplificationMonitor } = await import('../dist/amplification.js');
  const monitor = new AmplificationMonitor(10_000, 200);
  const upstreams = Array.from({ length: 50 }, (_, i) => `10.0.0.${i}:8080`);
  const n = 2_000_000;
  let now = Date.now();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) monitor.record(upstreams[i % 50], i % 3 === 0, (now += 0.01));
  return (Number(process.hrtime.bigint() - start) / n).toFixed(0);
}

async function endToEnd(mode) {
  const child = spawn(process.execPath, [HERE, '--serve', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /URL (\S+)/.exec(out);
        if (match) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
    });
    const autocannon = require('autocannon');
    const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S });
    return { rps: Math.round(result.requests.average), p50: result.latency.p50, p99: result.latency.p99 };
  } finally {
    child.kill();
  }
}

function writeSection(section) {
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  const start = current.indexOf(SECTION);
  let next;
  if (start === -1) next = `${current.trimEnd()}\n\n${section}`;
  else {
    const end = current.indexOf('\n## ', start + SECTION.length);
    next = current.slice(0, start) + section + (end === -1 ? '' : current.slice(end + 1));
  }
  writeFileSync(RESULTS, next.endsWith('\n') ? next : `${next}\n`);
}

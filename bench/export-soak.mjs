#!/usr/bin/env node
// Soak of a traced node:http app at a fixed request rate while the trace backend is healthy, blackholed (accepts
// connections, never answers) and answering 503 — for Waggle's export pipeline and for stock OpenTelemetry
// (BatchSpanProcessor + OTLP/proto exporter) in the same run, plus a control that records the same spans and exports
// nothing. Writes its section of bench/RESULTS.md.
//   node bench/export-soak.mjs [--seconds 60] [--warmup 10] [--rate 1000] [--connections 20] [--sdks waggle,otel] [--no-write]
// Goals (issue 6): RSS growth <= 25 MiB, p99 <= 1.2x healthy, throughput >= 95% of healthy.
// Every case first runs an announced warm-up at the same rate (JIT, V8 sizing its young generation to the load,
// the first batches); RSS growth is measured from the end of the warm-up to the end of the measured run, for both
// SDKs and every backend alike. Growth from the idle process is printed next to it.
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const value = Number(process.argv[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number; got ${process.argv[i + 1]}`);
    process.exit(2);
  }
  return value;
}
const seconds = arg('seconds', 60);
const warmup = arg('warmup', 10);
const noWrite = process.argv.includes('--no-write');
const sdksAt = process.argv.indexOf('--sdks');
const sdks = sdksAt === -1 ? ['waggle', 'otel', 'none'] : process.argv[sdksAt + 1].split(',');
const rate = arg('rate', 1000);
const connections = arg('connections', 20);
const here = fileURLToPath(new URL('.', import.meta.url));

/** The trace backend: one port, behaviour switched per case. */
function startBackend() {
  const state = { mode: 'healthy', requests: 0 };
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    state.requests++;
    if (state.mode === 'blackhole') {
      req.resume(); // read the body, never answer
      return;
    }
    req.resume();
    req.on('end', () => {
      if (state.mode === '503') res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        state,
        url: `http://127.0.0.1:${server.address().port}/v1/traces`,
        reset(mode) {
          state.mode = mode;
          state.requests = 0;
          for (const s of sockets) s.destroy();
        },
        close: () => new Promise((r) => server.close(r)),
      }),
    ),
  );
}

async function runCase(sdk, mode, backend) {
  backend.reset(mode);
  const child = fork(`${here}export-soak-app.mjs`, [sdk, backend.url], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const samples = [];
  let lastStats;
  const port = await new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.type === 'ready') resolve(m.port);
      if (m.type === 'memory') {
        samples.push({ at: Date.now(), rss: m.rss, heap: m.heap });
        lastStats = m.stats;
      }
    });
    child.on('exit', (code) => reject(new Error(`app exited early (${code}): ${stderr}`)));
  });
  const url = `http://127.0.0.1:${port}/orders/42`;
  // Let the idle process report once, then warm up at the measured rate and measure from the end of the warm-up.
  await new Promise((r) => setTimeout(r, 600));
  const rssIdle = samples.at(-1)?.rss ?? 0;
  await autocannon({ url, connections, duration: warmup, overallRate: rate });
  const startAt = Date.now();
  const result = await autocannon({ url, connections, duration: seconds, overallRate: rate });
  await new Promise((r) => setTimeout(r, 600));
  const measured = samples.filter((s) => s.at >= startAt);
  const rssStart = measured[0]?.rss ?? 0;
  const rssEnd = measured.at(-1)?.rss ?? 0;
  const rssMax = Math.max(...measured.map((s) => s.rss));
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  return {
    sdk,
    mode,
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts,
    rssIdleMiB: rssIdle / 2 ** 20,
    rssStartMiB: rssStart / 2 ** 20,
    rssGrowthFromIdleMiB: (rssEnd - rssIdle) / 2 ** 20,
    rssGrowthMiB: (rssEnd - rssStart) / 2 ** 20,
    rssMaxGrowthMiB: (rssMax - rssStart) / 2 ** 20,
    backendRequests: backend.state.requests,
    dropped: lastStats?.dropped,
  };
}

const backend = await startBackend();
const rows = [];
for (const sdk of sdks) {
  // The control exports nothing, so only one backend case is meaningful.
  for (const mode of sdk === 'none' ? ['healthy'] : ['healthy', 'blackhole', '503']) {
    process.stderr.write(`export-soak: ${sdk} / ${mode} (${seconds}s at ${rate} req/s)\n`);
    rows.push(await runCase(sdk, mode, backend));
  }
}
await backend.close();

const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const lines = [];
lines.push('<!-- export-soak:start -->');
lines.push('## @waggle/node — export pipeline soak (`bench/export-soak.mjs`)');
lines.push('');
lines.push(
  `${seconds} s per case at a fixed ${rate} req/s (${connections} connections, autocannon) against a node:http app making 3 spans per request; ` +
    `${os.cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString()}. Goals: RSS growth ≤ 25 MiB, p99 ≤ 1.2× healthy, throughput ≥ 95% of healthy.`,
  '',
  `Each case starts with an announced ${warmup} s warm-up at the same rate (JIT, V8 growing its young generation to the load, first batches); ` +
    `**RSS growth is measured from the end of the warm-up** to the end of the ${seconds} s run, the same way for both SDKs and every backend. ` +
    'p99 and req/s are of the measured run. "from idle" is the growth since the idle process, warm-up included, for reference.',
);
for (const sdk of sdks) {
  const label =
    sdk === 'waggle'
      ? 'Waggle export pipeline'
      : sdk === 'otel'
        ? 'Stock OpenTelemetry (BatchSpanProcessor + OTLP/proto exporter)'
        : 'Control: same SDK and spans, no export (a span processor that does nothing)';
  const healthy = rows.find((r) => r.sdk === sdk && r.mode === 'healthy');
  lines.push('', `### ${label}`, '');
  lines.push('| backend | req/s | vs healthy | p99 ms | p99 vs healthy | failed requests | RSS idle → after warm-up MiB | RSS growth MiB (end / max) | from idle MiB | backend requests | dropped spans |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows.filter((x) => x.sdk === sdk)) {
    const dropped = r.dropped ? Object.entries(r.dropped).filter(([, n]) => n > 0).map(([k, n]) => `${k}=${n}`).join(' ') || '0' : 'not reported';
    lines.push(
      `| ${r.mode} | ${fmt(r.rps, 0)} | ${fmt((100 * r.rps) / healthy.rps, 1)}% | ${fmt(r.p99, 1)} | ${fmt(r.p99 / healthy.p99, 2)}× | ${r.errors} | ${fmt(r.rssIdleMiB)} → ${fmt(r.rssStartMiB)} | ${fmt(r.rssGrowthMiB)} / ${fmt(r.rssMaxGrowthMiB)} | ${fmt(r.rssGrowthFromIdleMiB)} | ${r.backendRequests} | ${dropped} |`,
    );
  }
}
lines.push('<!-- export-soak:end -->');
const section = lines.join('\n');

const resultsPath = `${here}RESULTS.md`;
let doc = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Benchmark results\n';
const re = /<!-- export-soak:start -->[\s\S]*?<!-- export-soak:end -->/;
doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
if (!noWrite) writeFileSync(resultsPath, doc);
console.log(section);

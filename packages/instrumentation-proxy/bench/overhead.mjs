// What ProxyInstrumentation costs a reply-from proxy, end to end, under the real distro:
//   node bench/overhead.mjs [--layout separate|in-process] [--slice 3] [--rounds 10] [--connections 10] [--rate 500]
//                           [--no-write] [--profile DIR]
//   node bench/overhead.mjs --micro     only the in-process per-attempt comparison (prints, writes nothing)
// Variants, each a `node --import @waggle/node/register bench/reply-from-app.cjs` exporting every span over OTLP to
// the counting sink (bench/overhead/sink.mjs), differing only in WAGGLE_INSTRUMENTATIONS:
//   http              the http instrumentation alone (the proxy's SERVER span)
//   http+undici       plus the undici instrumentation: one plain CLIENT span per upstream request
//   http+undici+proxy plus ProxyInstrumentation, which makes that CLIENT span itself (resend count, retry and
//                     amplification fields) and decorates the SERVER span
// Layouts (--layout):
//   separate (default) the upstream is its own, untraced process pinned with the load generator (CPU 1), as production
//                      proxies and API servers run: the measured process is the proxy alone. Each variant also runs
//                      a second time with its export processor made a no-op (spans recorded, not exported), so the
//                      export's share of a span's cost shows.
//   in-process         the upstream server runs inside each proxy process (the bench's earlier layout): that process
//                      also pays the upstream's side of the request, including, once a traceparent is sent (undici,
//                      proxy), extracting it and sampling on the parent. Writes its own block under the section.
// The servers run side by side (pinned to CPU 0; autocannon and the sink to CPU 1) and the load moves between
// them in short slices: every round gives each server one saturated slice (req/s, CPU per request) and one slice at
// a fixed --rate below saturation (CPU per request: the steadier number when other work shares the machine).
// Ratios against http are taken per round, slices seconds apart, and the medians reported, so a machine whose load
// drifts affects every variant alike. A slice's CPU is read once the sink has received all its spans (the batcher
// exports up to a second later): each slice pays for exporting its own spans, not for the previous slice's backlog.
// CPU is the on-CPU time of all the proxy process's threads from /proc/<pid>/task/*/schedstat (nanoseconds), not
// utime + stime in 10 ms ticks. The fixed-rate CPU per request is the headline: saturated throughput on a shared
// 2-core machine measures the load generator and the neighbours as much as the server. Rewrites this package's
// block(s) of <repo>/bench/RESULTS.md. Needs `npm run build`. --profile DIR writes one CPU profile per variant there.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { autocannon, cpuSeconds, hasTaskset, launch, settledCount, sinkCount, stop } from '../../../bench/overhead/measure.mjs';

const { values } = parseArgs({
  options: {
    slice: { type: 'string', default: process.env.BENCH_DURATION_S ?? '3' },
    rounds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    rate: { type: 'string', default: '500' },
    'no-write': { type: 'boolean', default: false },
    profile: { type: 'string' },
    micro: { type: 'boolean', default: false },
    layout: { type: 'string', default: 'separate' },
    mux: { type: 'boolean', default: false },
    'turn-ms': { type: 'string', default: '200' },
  },
});
const sliceS = Number(values.slice);
const rounds = Number(values.rounds);
const connections = Number(values.connections);
const rate = Number(values.rate);
const RESULTS = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('../../../bench/RESULTS.md', import.meta.url));
const layout = values.layout;
if (layout !== 'separate' && layout !== 'in-process') throw new Error(`--layout separate|in-process, not ${layout}`);
const SECTION = '## @waggle/instrumentation-proxy';
const APP = fileURLToPath(new URL('./reply-from-app.cjs', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('./upstream.cjs', import.meta.url));
const MUX_LOAD = fileURLToPath(new URL('./mux-load.mjs', import.meta.url));
const INSTRUMENTED = [
  { name: 'http', instrumentations: 'http' },
  { name: 'http+undici', instrumentations: 'http,undici' },
  { name: 'http+undici+proxy', instrumentations: 'http,undici,proxy' },
];
// Without export: the same three with the export span processor a no-op (separate layout only).
const VARIANTS =
  layout === 'separate'
    ? [...INSTRUMENTED, ...INSTRUMENTED.map((v) => ({ ...v, name: `${v.name} no-export`, noExport: true }))]
    : INSTRUMENTED;

if (!existsSync(new URL('../dist/index.js', import.meta.url))) throw new Error('build the package first (npm run build)');
if (values.micro) {
  process.stdout.write(`${JSON.stringify(await microAttempt())}\n`);
  process.exit(0);
}
const taskset = hasTaskset() && cpus().length >= 2;
const loadStart = loadavg()[0];
const sink = launch(['sink.mjs'], {}, { cpu: 1, taskset, cwd: fileURLToPath(new URL('../../../bench/overhead/', import.meta.url)) });
const sinkUrl = `http://127.0.0.1:${(await sink.listening).port}`;
const upstream =
  layout === 'separate' ? launch([UPSTREAM], {}, { cpu: 1, taskset, cwd: fileURLToPath(new URL('..', import.meta.url)) }) : undefined;
const upstreamUrl = upstream === undefined ? undefined : `http://127.0.0.1:${(await upstream.listening).port}`;
const micro = await microRecord();
const attemptMicro = await microAttempt();
const servers = [];
const runs = new Map(VARIANTS.map((v) => [v.name, []]));
const loads = [];
try {
  for (const variant of VARIANTS) servers.push(await startServer(variant));
  for (const server of servers) await calibrate(server);
  for (const server of servers) await autocannon(server.url, { connections, durationS: 2, cpu: 1, taskset });
  for (let round = 0; round < rounds; round++) {
    const muxed = values.mux ? await muxWindow() : undefined;
    for (const [index, server] of servers.entries()) {
      const saturated = await slice(server, {});
      const atRate = muxed === undefined ? await slice(server, { overallRate: rate }) : { cpuUs: muxed[index] };
      runs.get(server.name).push({ rps: saturated.rps, p99: saturated.p99, cpuUsPerRequest: saturated.cpuUs, cpuUsAtRate: atRate.cpuUs });
      loads.push(loadavg()[0]);
      process.stderr.write(
        `bench: round ${round + 1}/${rounds} ${server.name}: ${Math.round(saturated.rps)} req/s, ${saturated.cpuUs.toFixed(0)} µs CPU/req saturated, ${atRate.cpuUs.toFixed(0)} at ${rate} req/s, load ${loads.at(-1).toFixed(1)}\n`,
      );
    }
  }
} finally {
  for (const server of servers) await stop(server.child);
  if (upstream !== undefined) await stop(upstream.child, 500);
  await stop(sink.child, 500);
}

const section = render();
process.stdout.write(`${section}\n`);
if (!values['no-write']) writeSection(section);

/** Starts one variant's server. */
async function startServer(variant) {
  const profileName = `${layout}-${variant.name.replace(/ /g, '-')}.cpuprofile`;
  const profile = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${profileName}`] : [];
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_SERVICE_NAME: 'bench-proxy',
    WAGGLE_INSTRUMENTATIONS: variant.instrumentations,
    ...(upstreamUrl === undefined ? {} : { BENCH_UPSTREAM: upstreamUrl }),
    ...(variant.noExport ? { BENCH_NO_EXPORT: '1' } : {}),
  };
  const launched = launch([...profile, '--import', '@waggle/node/register', APP], env, { cpu: 0, taskset, cwd: fileURLToPath(new URL('..', import.meta.url)) });
  const { port } = await launched.listening;
  return { name: variant.name, child: launched.child, url: `http://127.0.0.1:${port}/`, spansPerRequest: NaN };
}

/**
 * The spans one request produces, from 20 sequential requests. Every server exports to the one sink, so this runs for
 * all of them before any load: a loaded server's export backlog would land in another's count.
 */
async function calibrate(server) {
  await settledCount(sinkUrl, 1500, 10_000);
  const before = await sinkCount(sinkUrl);
  for (let i = 0; i < 20; i++) await (await fetch(server.url)).arrayBuffer();
  server.spansPerRequest = ((await settledCount(sinkUrl, 1500, 10_000)) - before) / 20;
  process.stderr.write(`bench: ${server.name} up, ${server.spansPerRequest.toFixed(2)} spans/req\n`);
}

/**
 * One autocannon run against `server`; its CPU time per request, from the start of the run until the sink has all
 * the run's spans (so the export of this slice's spans is included, and no earlier slice's).
 */
async function slice(server, options) {
  const cpuBefore = cpuTime(server.child.pid);
  const load = await autocannon(server.url, { connections, durationS: sliceS, cpu: 1, taskset, ...options });
  await settled();
  const cpuUsed = cpuTime(server.child.pid) - cpuBefore;
  if (load.errors > 0) throw new Error(`${server.name}: ${load.errors} failed requests`);
  return { rps: load.rps, p99: load.p99, cpuUs: (cpuUsed * 1e6) / load.requests };
}

/**
 * The fixed-rate measure with --mux: one window in which the load (--rate, open loop, pinned to the load CPU) moves
 * between all the proxies in --turn-ms turns, --slice seconds for each in all; every proxy's CPU is read before the
 * window and after the sink has all the window's spans. Returns CPU µs per request for each server, in order.
 */
async function muxWindow() {
  await settled();
  const before = servers.map((server) => cpuTime(server.child.pid));
  const spec = { targets: servers.map((server) => server.url), rate, turnMs: Number(values['turn-ms']), durationS: sliceS * servers.length, connections };
  const args = [MUX_LOAD, JSON.stringify(spec)];
  const [command, argv] = taskset ? ['taskset', ['-c', '1', process.execPath, ...args]] : [process.execPath, args];
  const out = await new Promise((resolve, reject) =>
    execFile(command, argv, { cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 1 << 20 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  const { requests, errors } = JSON.parse(out);
  if (errors > 0) throw new Error(`mux window: ${errors} failed requests`);
  await settled();
  return servers.map((server, i) => ((cpuTime(server.child.pid) - before[i]) * 1e6) / requests[i]);
}

/**
 * Waits until the sink is quiet: fewer than 3 new spans in 1.2 s (at most 10 s). Not "no new span": with
 * ProxyInstrumentation on, each export batch's own OTLP POST comes back as one more span (the exporter's request runs in
 * the context of the proxied request that armed the batch timer, and the proxy's http.client subscriber ignores the
 * suppression), so that variant trickles one span a second forever and an exact quiet never comes.
 */
async function settled() {
  const deadline = Date.now() + 10_000;
  let last = await sinkCount(sinkUrl);
  for (;;) {
    await sleep(1200);
    const now = await sinkCount(sinkUrl);
    if (now - last < 3 || Date.now() >= deadline) return now;
    last = now;
  }
}

/** CPU seconds used by all of the process's threads, in nanoseconds' precision (schedstat), else in ticks. */
function cpuTime(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e9;
  } catch {
    return cpuSeconds(pid);
  }
}

function median(numbers) {
  const sorted = numbers.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Per round, variant ÷ base: the ratio is taken inside a round, where both ran minutes apart at most. */
function ratios(name, key, base = 'http') {
  return runs.get(name).map((r, i) => r[key] / runs.get(base)[i][key]);
}

/** Per round, variant − base in µs. */
function differences(name, key, base) {
  return runs.get(name).map((r, i) => r[key] - runs.get(base)[i][key]);
}

/** "median (min–max, middle half a–b)" of per-round ratios as costs. */
function spread(perRound) {
  const sorted = perRound.toSorted((a, b) => a - b);
  const q = (f) => sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))];
  return `${pct(median(perRound) - 1)} (rounds ${pct(sorted[0] - 1)} to ${pct(sorted.at(-1) - 1)}, middle half ${pct(q(0.25) - 1)} to ${pct(q(0.75) - 1)})`;
}

/** The variant a row's cost is taken against: like for like, with or without export. */
function baseOf(name) {
  return name.endsWith(' no-export') ? 'http no-export' : 'http';
}

function us(x) {
  return `${x.toFixed(1)} µs`;
}

function render() {
  const med = (name, key) => median(runs.get(name).map((x) => x[key]));
  const cost = (name, key, invert) => {
    const base = baseOf(name);
    if (name === base) return '—';
    return pct(invert ? 1 - median(ratios(name, key, base)) : median(ratios(name, key, base)) - 1);
  };
  const rows = servers.map(
    ({ name, spansPerRequest }) =>
      `| ${name} | ${Math.round(med(name, 'rps'))} | ${med(name, 'cpuUsPerRequest').toFixed(0)} | ${med(name, 'cpuUsAtRate').toFixed(0)} | ${med(name, 'p99')} | ${name.endsWith(' no-export') ? '— (not exported)' : spansPerRequest.toFixed(2)} | ${cost(name, 'rps', true)} | ${cost(name, 'cpuUsPerRequest')} | ${cost(name, 'cpuUsAtRate')} |`,
  );
  const perRound = (name, key, base = 'http') => ratios(name, key, base).map((x) => x.toFixed(3)).join(', ');
  const proxyRps = median(ratios('http+undici+proxy', 'rps'));
  const proxyCpu = median(ratios('http+undici+proxy', 'cpuUsPerRequest'));
  const undiciCpuAtRate = median(ratios('http+undici', 'cpuUsAtRate'));
  const proxyVsUndici = median(ratios('http+undici+proxy', 'cpuUsAtRate', 'http+undici'));
  const loadEnd = loadavg()[0];
  const separate = layout === 'separate';
  const command = `node packages/instrumentation-proxy/bench/overhead.mjs --layout ${layout}${values.mux ? ` --mux --turn-ms ${values['turn-ms']}` : ''} --slice ${sliceS} --rounds ${rounds} --connections ${connections} --rate ${rate}`;
  const lines = [
    separate ? SECTION : "### Upstream in the proxy's process (the bench's earlier layout)",
    '',
    `Generated by \`${command}\` on ${new Date().toISOString().slice(0, 10)}; Node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model.trim()}.`,
    `Load average ${loadStart.toFixed(1)} at start, ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run, ${loadEnd.toFixed(1)} at the end${taskset ? `; proxies pinned to CPU 0, autocannon, the span sink${separate ? ' and the upstream' : ''} to CPU 1` : '; not pinned'}.`,
    separate
      ? 'fastify 5 + @fastify/reply-from 12 proxying `GET /` to an upstream in **another process** (plain node:http, untraced, not measured), the proxy under `node --import @waggle/node/register`,'
      : 'fastify 5 + @fastify/reply-from 12 proxying `GET /` to an upstream **in the same process**, under `node --import @waggle/node/register`,',
    values.mux
      ? `every span exported over OTLP to a counting sink. The ${servers.length} proxies run side by side; ${rounds} rounds, each giving every proxy a ${sliceS} s saturated slice (autocannon), and one ${sliceS * servers.length} s window at ${rate} req/s (open loop, undici, ${connections} connections per proxy) that moves between the proxies every ${values['turn-ms']} ms (${sliceS} s each in all), so the fixed-rate numbers of one round come from the same seconds of the machine.`
      : `every span exported over OTLP to a counting sink. The ${servers.length} proxies run side by side; ${rounds} rounds, each giving every proxy a ${sliceS} s saturated slice, then ${sliceS} s at ${rate} req/s.`,
    `Costs are medians of the per-round ratios against \`http\`${separate ? ' (rows marked no-export: against `http no-export`)' : ''} in the same round. "CPU" is the on-CPU time of all the proxy process's threads per request`,
    '(schedstat), from the start of a slice until the sink has received all its spans: export included, each slice its own.',
  ];
  if (separate) {
    lines.push(
      '',
      'Layout change (issue 19): until the run of 2026-12-08 (+32.2 % at 1000 req/s, 12 rounds) the upstream ran inside each measured proxy process. ' +
        'The proxy variants then also paid for the upstream\'s side of joining the trace (extracting the traceparent the CLIENT span injects, parent-based sampling, the upstream\'s SERVER span as a child), ' +
        'work that in production runs on the upstream\'s host, while the `http` variant sends no traceparent at all. Production proxies and API servers are separate processes, so the headline now measures the proxy process alone; ' +
        'the in-process layout is still measured (`--layout in-process`) and reported in the block below this one.',
      '',
      'Rows marked no-export run the same instrumentations with the export span processor made a no-op (spans recorded, attributes set, the rollup and trace-field processors run; no queue, encoding or OTLP request), so the export\'s share shows.',
    );
  }
  lines.push(
    '',
    '| variant (`WAGGLE_INSTRUMENTATIONS`) | req/s | CPU µs/req | CPU µs/req at fixed rate | p99 ms | spans/req (sequential) | throughput cost | CPU cost | CPU cost at fixed rate |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Per round, http+undici+proxy ÷ http: CPU/req at ${rate} req/s ${perRound('http+undici+proxy', 'cpuUsAtRate')}; CPU/req saturated ${perRound('http+undici+proxy', 'cpuUsPerRequest')}; req/s ${perRound('http+undici+proxy', 'rps')}.`,
  );
  if (separate) {
    lines.push(
      '',
      `Per round, without export, http+undici+proxy no-export ÷ http no-export: CPU/req at ${rate} req/s ${perRound('http+undici+proxy no-export', 'cpuUsAtRate', 'http no-export')}.`,
    );
  }
  lines.push(
    '',
    `**Cost of ProxyInstrumentation over the http instrumentation alone${separate ? '' : ' (upstream in the same process)'}: CPU per request at a fixed rate ${spread(ratios('http+undici+proxy', 'cpuUsAtRate'))}** (target ≤ 10 %); CPU per request saturated ${pct(proxyCpu - 1)}; throughput ${pct(1 - proxyRps)}. ` +
      `In µs per request at the fixed rate (median of per-round differences): ${us(median(differences('http+undici+proxy', 'cpuUsAtRate', 'http')))} over http's ${us(med('http', 'cpuUsAtRate'))}. ` +
      `The undici instrumentation's CLIENT span, which ProxyInstrumentation replaces, costs ${pct(undiciCpuAtRate - 1)} at the same rate; http+undici+proxy ÷ http+undici: ${proxyVsUndici.toFixed(3)}.`,
  );
  if (values.mux) {
    lines.push(
      '',
      `_With --mux a proxy serves ${values['turn-ms']} ms turns with ${(Number(values['turn-ms']) * (servers.length - 1)) / 1000} s gaps, so its CPU per request at the fixed rate (http: ${us(med('http', 'cpuUsAtRate'))}) is well above the saturated one (${us(med('http', 'cpuUsPerRequest'))}), ` +
        'presumably wake-ups and cold caches after each gap. A percentage over that larger base is smaller for the same µs; read the µs differences alongside._',
    );
  }
  if (separate) {
    const withExport = (name) => median(differences(name, 'cpuUsAtRate', 'http'));
    const withoutExport = (name) => median(differences(`${name} no-export`, 'cpuUsAtRate', 'http no-export'));
    const exportShare = (name) => median(runs.get(name).map((r, i) => r.cpuUsAtRate - runs.get(`${name} no-export`)[i].cpuUsAtRate));
    lines.push(
      '',
      `Export share, at ${rate} req/s, medians of per-round differences: a request costs the proxy process ${us(exportShare('http'))} more with its SERVER span exported than with export a no-op (\`http\`), ` +
        `${us(exportShare('http+undici'))} with the undici CLIENT span too, ${us(exportShare('http+undici+proxy'))} with ProxyInstrumentation's. ` +
        `Over http alone, the CLIENT span costs ${us(withExport('http+undici'))} per request exported and ${us(withoutExport('http+undici'))} not exported (undici); ` +
        `${us(withExport('http+undici+proxy'))} and ${us(withoutExport('http+undici+proxy'))} (ProxyInstrumentation). ` +
        `Without export, http+undici+proxy ÷ http: ${spread(ratios('http+undici+proxy no-export', 'cpuUsAtRate', 'http no-export'))}.`,
    );
  }
  lines.push(
    '',
    `In-process, per upstream attempt (undici channel messages create → sendHeaders → headers → trailers, real SDK spans, a span processor that does nothing, ${attemptMicro.rounds} interleaved rounds, medians): ` +
      `ProxyInstrumentation ${attemptMicro.proxy.toFixed(1)} µs (its scope and context for the call included), UndiciInstrumentation ${attemptMicro.undici.toFixed(1)} µs. ` +
      `AmplificationMonitor.record (50 upstreams): ${micro} ns/op.`,
    ...(rounds < 5 ? ['', `_Short run (${rounds} rounds): a smoke test of the bench, not a measurement to quote._`] : []),
    '',
  );
  return lines.join('\n');
}

/**
 * What one upstream attempt costs each instrumentation in-process, without the network and the app: the messages undici
 * publishes for a request, fed to ProxyInstrumentation's recorder (inside the scope a `reply.from()` call makes) and to
 * UndiciInstrumentation, alternating in blocks so both see the same machine.
 */
async function microAttempt() {
  const dc = await import('node:diagnostics_channel');
  const { context, propagation, trace } = await import('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
  const { TracerProvider } = await import('@opentelemetry/sdk-trace');
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  const { AttemptRecorder } = await import('../dist/upstream-attempts.js');
  const { AmplificationMonitor } = await import('../dist/amplification.js');
  const { isUpstreamAttempt } = await import('../dist/index.js');
  const nothing = { onStart() {}, onEnd() {}, onEnding() {}, forceFlush: async () => {}, shutdown: async () => {} };
  const provider = new TracerProvider({ spanProcessors: [nothing] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer('bench');
  const counter = { add() {} };
  const recorder = new AttemptRecorder(() => tracer, () => counter, new AmplificationMonitor(10_000, 200), { threshold: 2, minRequests: 10, warn: false }, () => {});
  // Constructed enabled: it reads config.enabled on every request, so enable()/disable() alone would not switch it.
  const undici = new UndiciInstrumentation({ ignoreRequestHook: isUpstreamAttempt });
  undici.setTracerProvider(provider);
  undici.disable();
  const channels = ['undici:request:create', 'undici:client:sendHeaders', 'undici:request:headers', 'undici:request:trailers'].map((n) => dc.channel(n));
  const socket = { remoteAddress: '127.0.0.1', remotePort: 8080 };
  const server = tracer.startSpan('GET /');
  const serverContext = trace.setSpan(context.active(), server);
  const publish = () => {
    const request = { origin: 'http://127.0.0.1:8080', method: 'GET', path: '/items', headers: ['host', '127.0.0.1:8080', 'x-forwarded-for', '10.0.0.1'], addHeader(k, v) { this.headers.push(k, v); } };
    channels[0].publish({ request });
    channels[1].publish({ request, headers: '', socket });
    channels[2].publish({ request, response: { statusCode: 200, headers: [], statusText: 'OK' } });
    channels[3].publish({ request, trailers: [] });
  };
  const viaProxy = () => {
    // What a reply.from() call does before undici publishes: the attempt state and the scope in the context.
    const state = recorder.stateFor({}, serverContext, 'server');
    context.with(recorder.scopedContext(serverContext, state, '@fastify/reply-from', { oneShot: false, expectHost: '127.0.0.1', expectPort: 8080 }), publish);
  };
  const viaUndici = () => context.with(serverContext, publish);
  const microRounds = 15;
  const results = { proxy: [], undici: [] };
  for (let round = 0; round < microRounds; round++) {
    recorder.subscribe();
    results.proxy.push(block(viaProxy, 5000));
    recorder.unsubscribe();
    undici.enable();
    results.undici.push(block(viaUndici, 5000));
    undici.disable();
  }
  // The first rounds warm the JIT up.
  return { rounds: microRounds, proxy: median(results.proxy.slice(3)), undici: median(results.undici.slice(3)) };
}

/** Mean µs per call of `fn` over `n` calls. */
function block(fn, n) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e3 / n;
}

function pct(x) {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
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

/**
 * Replaces this bench's block of RESULTS.md for the layout: between its markers, or (first run with markers) from its
 * heading to the next heading or marker of another section. The in-process block, when new, goes right after the
 * separate-layout block.
 */
function writeSection(text) {
  const main = ['<!-- @waggle/instrumentation-proxy:start -->', '<!-- @waggle/instrumentation-proxy:end -->'];
  const [begin, finish] = layout === 'separate' ? main : ['<!-- @waggle/instrumentation-proxy in-process:start -->', '<!-- @waggle/instrumentation-proxy in-process:end -->'];
  const block = `${begin}\n${text.trimEnd()}\n${finish}`;
  const current = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
  let from = current.indexOf(begin);
  let to = from === -1 ? -1 : current.indexOf(finish, from) + finish.length;
  if (from === -1 && layout === 'separate') {
    from = current.indexOf(SECTION);
    if (from !== -1) {
      const next = [current.indexOf('\n## ', from + SECTION.length), current.indexOf('\n<!--', from)].filter((x) => x !== -1);
      to = next.length > 0 ? Math.min(...next) : current.length;
    }
  } else if (from === -1) {
    const after = current.indexOf(main[1]);
    if (after !== -1) {
      from = after + main[1].length;
      to = from;
      const updated = `${current.slice(0, from)}\n${block}${current.slice(to)}`;
      writeFileSync(RESULTS, updated);
      process.stderr.write(`bench: wrote ${RESULTS}\n`);
      return;
    }
  }
  const updated = from === -1 ? `${current.trimEnd()}\n\n${block}\n` : `${current.slice(0, from)}${block}${current.slice(to)}`;
  writeFileSync(RESULTS, updated);
  process.stderr.write(`bench: wrote ${RESULTS}\n`);
}

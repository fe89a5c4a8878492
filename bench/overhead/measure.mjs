// Measures one variant: startup to listening, throughput and p99 under autocannon, peak RSS, spans delivered.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, copyFileSync, rmSync } from 'node:fs';
import { createRequire, findPackageJSON } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);
const AUTOCANNON = require.resolve('autocannon/autocannon.js');

/**
 * A directory that looks like a real service's install: node_modules holds express, the libraries a typical
 * service also depends on (pg, ioredis, bullmq, sequelize, fastify: installed, not imported by the hello-world) and
 * the three tracers, as symlinks into the workspace. In the monorepo every library is hoisted next to the bench,
 * which would make Waggle's "load what is installed" see every library; a real app has only its own deps, but
 * rarely only express: the installed-but-unused libraries are what an instrumentation loader must not pay for.
 */
export const APP_DEPENDENCIES = ['express', 'pg', 'ioredis', 'bullmq', 'sequelize', 'fastify'];
const TRACERS = ['@waggle/node', '@opentelemetry/auto-instrumentations-node', 'dd-trace'];

export function createAppDir() {
  const dir = mkdtempSync(join(tmpdir(), 'waggle-bench-app-'));
  for (const pkg of [...APP_DEPENDENCIES, ...TRACERS]) {
    const target = dirname(findPackageJSON(pkg, import.meta.url));
    mkdirSync(dirname(join(dir, 'node_modules', pkg)), { recursive: true });
    symlinkSync(target, join(dir, 'node_modules', pkg), 'dir');
  }
  for (const app of ['app.cjs', 'app.mjs']) copyFileSync(join(here, app), join(dir, app));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether `taskset` can pin processes to CPUs here. */
export function hasTaskset() {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs `args` pinned to `cpu` when taskset exists; returns the child and a promise of its "listening <port>". */
export function launch(args, env, { cpu, taskset, cwd = here }) {
  const command = taskset ? 'taskset' : process.execPath;
  const argv = taskset ? ['-c', String(cpu), process.execPath, ...args] : args;
  const started = process.hrtime.bigint();
  const child = spawn(command, argv, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  const listening = new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      stdout += c;
      const m = /listening (\d+)/.exec(stdout);
      if (m) resolve({ port: Number(m[1]), startupMs: Number(process.hrtime.bigint() - started) / 1e6 });
    });
    child.on('exit', (code, signal) => reject(new Error(`exited (${code ?? signal}) before listening: ${stderr}`)));
  });
  listening.catch(() => {});
  return { child, listening, stderr: () => stderr };
}

/** The process's peak resident set (VmHWM) in MiB; the pid is the node child (taskset execs in place). */
export function peakRssMiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU seconds (user + system) the process has used. Per request, this is the number that survives a busy
 * machine: throughput depends on what else runs, CPU spent per request much less.
 */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11], fields[12] are utime and stime (stat fields 14 and 15) in clock ticks (USER_HZ = 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) === false) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** `overallRate` (requests per second, all connections together) holds the load below saturation. */
export async function autocannon(url, { connections, durationS, cpu, taskset, overallRate }) {
  const args = [AUTOCANNON, '--json', '-c', String(connections), '-d', String(durationS), ...(overallRate ? ['-R', String(overallRate)] : []), url];
  const [command, argv] = taskset ? ['taskset', ['-c', String(cpu), process.execPath, ...args]] : [process.execPath, args];
  const stdout = await new Promise((resolve, reject) =>
    execFile(command, argv, { maxBuffer: 16 * 1024 * 1024 }, (error, out) => (error ? reject(error) : resolve(out))),
  );
  const result = JSON.parse(stdout);
  return {
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
    rps: result.requests.average,
    p99: result.latency.p99,
  };
}

export async function sinkCount(sinkUrl) {
  try {
    return (await (await fetch(`${sinkUrl}/count`)).json()).spans;
  } catch {
    // A kept-alive connection the sink closed just as fetch reused it ('other side closed'): ask once more.
    return (await (await fetch(`${sinkUrl}/count`)).json()).spans;
  }
}

/** Waits until the sink's count stops growing (spans still in flight from the variant's batcher). */
export async function settledCount(sinkUrl, quietMs = 1500, maxMs = 8000) {
  const deadline = Date.now() + maxMs;
  let last = await sinkCount(sinkUrl);
  let lastChange = Date.now();
  while (Date.now() < deadline) {
    await sleep(250);
    const now = await sinkCount(sinkUrl);
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange >= quietMs) break;
  }
  return last;
}

/**
 * One variant end to end: median startup over `startups` launches, then one measured server: calibration
 * (spans per request when idle), warmup, the load run, peak RSS, and spans delivered per request at the sink.
 */
export async function measureVariant(variant, opts) {
  const { sinkUrl, connections, durationS, startups, taskset, serverCpu, loadCpu, appDir } = opts;
  const app = variant.app ?? 'app.cjs';
  const cwd = appDir;
  const startupsMs = [];
  for (let i = 0; i < startups; i++) {
    const run = launch([...variant.args, app], variant.env, { cpu: serverCpu, taskset, cwd });
    startupsMs.push((await run.listening).startupMs);
    await stop(run.child, 500);
  }
  startupsMs.sort((a, b) => a - b);

  const server = launch([...variant.args, app], variant.env, { cpu: serverCpu, taskset, cwd });
  const { port } = await server.listening;
  const url = `http://127.0.0.1:${port}/users/42`;
  try {
    // Calibration: how many spans one request produces when nothing is under pressure.
    const before = await sinkCount(sinkUrl);
    const calibrationRequests = 20;
    for (let i = 0; i < calibrationRequests; i++) await (await fetch(url)).arrayBuffer();
    const calibrated = ((await settledCount(sinkUrl, 1500, variant.name === 'bare' ? 1600 : 6000)) - before) / calibrationRequests;

    await autocannon(url, { connections, durationS: 1, cpu: loadCpu, taskset });
    await settledCount(sinkUrl, 1000);
    const startCount = await sinkCount(sinkUrl);
    const cpuBefore = cpuSeconds(server.child.pid);
    const load = await autocannon(url, { connections, durationS, cpu: loadCpu, taskset });
    const peak = peakRssMiB(server.child.pid);
    const delivered = (await settledCount(sinkUrl, 1500, 15000)) - startCount;
    // Includes exporting the run's spans (the settle above waits for it).
    const cpuUsed = cpuSeconds(server.child.pid) - cpuBefore;
    return {
      name: variant.name,
      base: variant.base ?? variant.name,
      module: variant.module ?? 'cjs',
      label: variant.label ?? variant.name,
      startupMs: startupsMs[Math.floor(startupsMs.length / 2)],
      rps: load.rps,
      p99: load.p99,
      requests: load.requests,
      errors: load.errors,
      peakRssMiB: peak,
      cpuUsPerRequest: load.requests > 0 ? (cpuUsed * 1e6) / load.requests : NaN,
      spansPerRequestIdle: calibrated,
      spansPerRequest: load.requests > 0 ? delivered / load.requests : 0,
      stderr: server.stderr().slice(0, 2000),
    };
  } finally {
    await stop(server.child);
  }
}

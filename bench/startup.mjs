#!/usr/bin/env node
// Startup only, with CPU: `node bench/startup.mjs [--launches 11] [--variants bare,waggle] [--taskset]`.
// Launches the express hello-world of bench/overhead (same app directory, same variants; `bare-esm`, `waggle-esm`
// and so on run the ES module app.mjs) interleaved and reports,
// per variant, the median wall time from spawn to "listening" plus the CPU the process had used by then: its main
// thread and all threads (V8's GC and compiler workers also grow with the code loaded; under --taskset they share
// the app's core, as in bench/overhead.mjs). CPU is what to compare on a busy machine: wall time there mostly
// measures the other processes. Not part of `npm run bench`; it writes nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createAppDir, launch, stop } from './overhead/measure.mjs';
import { variantsByApp } from './overhead/variants.mjs';

const { values } = parseArgs({
  options: {
    launches: { type: 'string', default: '11' },
    variants: { type: 'string', default: 'bare,waggle,bare-esm,waggle-esm' },
    taskset: { type: 'boolean', default: false },
  },
});
const launches = Number(values.launches);
const names = values.variants.split(',');
// No sink: a closed local port, so exporters have somewhere to point and nothing is sent before "listening".
const selected = variantsByApp('http://127.0.0.1:9').filter((v) => names.includes(v.name));

/** CPU milliseconds a thread has run (schedstat: nanoseconds on the CPU, then wait time, then slices). */
function threadMs(pid, tid) {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

function cpuMs(pid) {
  let all = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      all += threadMs(pid, tid);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { main: threadMs(pid, pid), all };
}

const appDir = createAppDir();
const runs = new Map(selected.map((v) => [v.name, []]));
try {
  for (let i = 0; i < launches; i++) {
    for (const variant of selected) {
      const run = launch([...variant.args, variant.app], variant.env, { cpu: 0, taskset: values.taskset, cwd: appDir.dir });
      const { startupMs } = await run.listening;
      runs.get(variant.name).push({ wall: startupMs, ...cpuMs(run.child.pid) });
      await stop(run.child, 500);
    }
  }
} finally {
  appDir.remove();
}

const median = (xs) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
// Each variant is compared with the bare app of its own module system.
process.stdout.write(`${launches} launches each${values.taskset ? ', pinned to CPU 0' : ''}; medians in ms (vs bare)\n`);
process.stdout.write('variant | wall to listening | main-thread CPU | all-threads CPU\n');
for (const [name, rs] of runs) {
  const base = runs.get(name.endsWith('-esm') ? 'bare-esm' : 'bare');
  const cell = (key) => {
    const m = median(rs.map((r) => r[key]));
    return base && base !== rs ? `${m.toFixed(0)} (+${(m - median(base.map((r) => r[key]))).toFixed(0)})` : m.toFixed(0);
  };
  process.stdout.write(`${name} | ${cell('wall')} | ${cell('main')} | ${cell('all')}\n`);
}

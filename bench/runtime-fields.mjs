// Express throughput with @waggle/instrumentation-runtime's wide fields on vs off (target: ≤ 2% cost).
// Usage: node bench/runtime-fields.mjs [--short]
//   full: 5 alternating rounds of 10 s per mode; --short: 2 rounds of 2 s (proves the script works).
// Writes its section of bench/RESULTS.md (between the @waggle/instrumentation-runtime markers).
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';

const short = process.argv.includes('--short');
const rounds = short ? 2 : 5;
const seconds = short ? 2 : 10;
const connections = 32;
const server = fileURLToPath(new URL('./runtime-fields-server.cjs', import.meta.url));
const resultsFile = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

async function measure(mode) {
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, RUNTIME_FIELDS: mode },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening (\d+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}/orders/17`;
  await autocannon({ url, connections, duration: 1 }); // warm-up: JIT, pools
  const result = await autocannon({ url, connections, duration: seconds });
  child.kill();
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${mode}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result.requests.average;
}

const loadBefore = os.loadavg()[0];
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const samples = { off: [], on: [] };
for (let r = 0; r < rounds; r++) {
  // Alternate the order so drift on a shared machine hits both modes alike.
  for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) samples[mode].push(await measure(mode));
  console.log(`round ${r + 1}/${rounds}: off ${samples.off.at(-1).toFixed(0)} req/s, on ${samples.on.at(-1).toFixed(0)} req/s`);
}
const off = median(samples.off);
const on = median(samples.on);
const cost = ((off - on) / off) * 100;
console.log(`median: off ${off.toFixed(0)} req/s, on ${on.toFixed(0)} req/s, cost ${cost.toFixed(2)}%`);

const begin = '<!-- @waggle/instrumentation-runtime:begin -->';
const end = '<!-- @waggle/instrumentation-runtime:end -->';
const section = `${begin}
## @waggle/instrumentation-runtime — wide runtime fields

Express 5 \`GET /orders/:id\` (JSON), http instrumentation + runtime instrumentation + batch export to a
no-op exporter; the only difference between the modes is \`spanFields\` (heap, RSS, event loop, GC, handles
on every local root span). ${rounds} alternating rounds × ${seconds} s, ${connections} connections, median of rounds.
Target: cost ≤ 2%.${short ? ' **Short run (`--short`): indicative only.**' : ''}

| mode | req/s (median) | rounds |
|---|---|---|
| fields off | ${off.toFixed(0)} | ${samples.off.map((x) => x.toFixed(0)).join(', ')} |
| fields on | ${on.toFixed(0)} | ${samples.on.map((x) => x.toFixed(0)).join(', ')} |

Cost of the wide fields: **${cost.toFixed(2)}%** (${cost <= 2 ? 'within' : 'over'} the 2% target).
Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString().slice(0, 10)},
1-min load average ${loadBefore.toFixed(1)} before / ${os.loadavg()[0].toFixed(1)} after${
  Math.max(loadBefore, os.loadavg()[0]) > os.cpus().length ? ' — **machine busy: numbers are noise, rerun on a quiet machine**' : ''
}.
${end}`;

let text = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
const at = text.indexOf(begin);
const until = text.indexOf(end);
text = at >= 0 && until > at ? text.slice(0, at) + section + text.slice(until + end.length) : `${text.trimEnd()}\n\n${section}\n`;
fs.writeFileSync(resultsFile, text);
console.log(`wrote ${resultsFile}`);

#!/usr/bin/env node
// @waggle/backend: one request with very many keys (issue 20). A built backend in its own process takes steady ingest
// and queries while it gets one Events API event with 1,000 keys, one with 5,000 and one OTLP span with 10^6
// attributes; then it is killed and restarted on the same data directory. Prints, per request, the answer, the
// slowest query and the peak RSS, and the restart time; writes its section of bench/RESULTS.md (not with --no-write).
// The same scenario is asserted by packages/backend/test/wide-events.test.ts.
//
//   node bench/wide-events.mjs [--no-write]      (build first: npx turbo run build --filter=@waggle/backend)
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { wideEventsScenario } from '../packages/backend/test/fixtures/wide-events.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'waggle-wide-bench-'));
const loadBefore = os.loadavg()[0];
let result;
try {
  result = await wideEventsScenario(dataDir);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
const answer = (c) => {
  if (c.status !== 200) return `HTTP ${c.status}`;
  try {
    const body = JSON.parse(c.body);
    return Array.isArray(body) ? `HTTP 200, ${body[0].status}${body[0].error ? ` "${body[0].error.slice(0, 40)}…"` : ''}` : 'HTTP 200';
  } catch {
    return 'HTTP 200 (partial_success: attributes dropped, counted)';
  }
};
const section = [
  '<!-- @waggle/backend wide events:start -->',
  '## @waggle/backend — wide events (`bench/wide-events.mjs`)',
  '',
  `Run ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, load average ${loadBefore.toFixed(1)} at start ` +
    `(${os.loadavg()[0].toFixed(1)} at the end), Node ${process.version}. Steady ingest (a batch every 50 ms) and queries (one at a time) run throughout; ` +
    'each request is measured from 0.3 s before it to 3 s after its answer. Goals (issue 20): queries answered within 1 s, RSS under 1 GiB, restart listening within 20 s.',
  '',
  '| request | answer | slowest query | queries | peak RSS |',
  '|---|---|---|---|---|',
  ...result.cases.map((c) => `| ${c.name} | ${answer(c)} | ${c.maxQueryMs.toFixed(0)} ms | ${c.queries} | ${c.maxRssMiB.toFixed(0)} MiB |`),
  `| restart after kill -9 (same data directory) | listening | ${result.restartMs.toFixed(0)} ms to listen | — | ${result.restartRssMiB.toFixed(0)} MiB |`,
  '<!-- @waggle/backend wide events:end -->',
].join('\n');
console.log(`\n${section}\n`);
if (!process.argv.includes('--no-write')) {
  const file = path.join(here, 'RESULTS.md');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const re = /<!-- @waggle\/backend wide events:start -->[\s\S]*?<!-- @waggle\/backend wide events:end -->/;
  text = re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}

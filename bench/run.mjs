#!/usr/bin/env node
// `npm run bench`: the whole suite, one benchmark after another (never side by side: they would measure each
// other), each rewriting its own section of bench/RESULTS.md. `--quick` runs every benchmark briefly, to check
// the suite works; its numbers are noise.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const root = fileURLToPath(new URL('..', import.meta.url));
const steps = [
  ['request overhead: bare / Waggle / stock OpenTelemetry / dd-trace', 'bench/overhead.mjs', quick ? ['--duration', '3', '--rounds', '1', '--startups', '1'] : ['--duration', '10', '--rounds', '3', '--startups', '5']],
  ['OTLP encode / decode', 'bench/otlp-codec.mjs', ['--seconds', quick ? '1' : '5']],
  ['export pipeline soak: healthy / blackholed / 503', 'bench/export-soak.mjs', ['--seconds', quick ? '5' : '60']],
  ['default redaction: SQL literal scanner, limits + redaction per span', 'bench/redaction.mjs', ['--rounds', quick ? '3' : '30']],
  ['runtime fields on root spans', 'bench/runtime-fields.mjs', quick ? ['--short'] : []],
  ['proxy instrumentation', 'packages/instrumentation-proxy/bench/overhead.mjs', quick ? ['--slice', '1', '--rounds', '1'] : ['--slice', '3', '--rounds', '10']],
  ['backend ingest and queries, 1M spans', 'bench/backend.mjs', ['--spans', quick ? '100000' : '1000000']],
  ['backend wide events: 1,000 and 5,000 keys, a span with 10^6 attributes', 'bench/wide-events.mjs', []],
  ...(quick ? [] : [['backend ingest and queries, 10M spans', 'bench/backend.mjs', ['--spans', '10000000']]]),
];

let failed = 0;
for (const [title, script, args, env = {}] of steps) {
  process.stdout.write(`\n== ${title}: node ${script} ${args.join(' ')}\n`);
  const started = Date.now();
  const result = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (result.status !== 0) {
    failed++;
    process.stdout.write(`== ${title} FAILED (exit ${result.status ?? result.signal}) after ${seconds}s\n`);
  } else {
    process.stdout.write(`== ${title} done in ${seconds}s\n`);
  }
}
process.exitCode = failed ? 1 : 0;

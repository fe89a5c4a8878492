#!/usr/bin/env node
// What default redaction costs at span end: the SQL literal scanner per statement (against the one regex it
// replaced, as a floor), and limits + redaction per span for a request's spans. Rounds are interleaved so that
// load on a shared machine hits every variant alike. Writes its section of bench/RESULTS.md.
//   node bench/redaction.mjs [--rounds 30]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createPreparer } from '../packages/node/dist/export/prepare.js';
import { createRedactor } from '../packages/node/dist/export/redact.js';
import { sqlDialect, stripSqlLiterals } from '../packages/node/dist/export/sql-literals.js';

const i = process.argv.indexOf('--rounds');
const rounds = i === -1 ? 30 : Number(process.argv[i + 1]);
const here = fileURLToPath(new URL('.', import.meta.url));

// Statements as pg, mysql2 and Sequelize send them: short parameterised, ORM-quoted, literal-heavy, long.
const STATEMENTS = [
  ['postgresql', 'SELECT * FROM orders WHERE id = $1'],
  ['postgresql', 'SELECT "User"."id", "User"."email", "User"."created_at" FROM "users" AS "User" WHERE "User"."id" = 42 LIMIT 1;'],
  ['postgresql', "INSERT INTO events (kind, payload, at) VALUES ('click', $$ {\"x\": 1} $$, now()) /* route='/orders' */"],
  ['mysql', "SELECT `o`.`id`, `o`.`total` FROM `orders` `o` WHERE `o`.`customer` = 'O\\'Brien' AND `o`.`total` > 100.50 ORDER BY `o`.`id` DESC LIMIT 20"],
  ['mysql', `INSERT INTO audit (a, b, c) VALUES ${Array.from({ length: 40 }, (_, n) => `(${n}, 'user-${n}@example.test', 0x${n.toString(16).padStart(4, '0')})`).join(', ')}`],
  ['sqlite', 'UPDATE [jobs] SET "state" = \'done\', finished_at = 1735689600 WHERE id = ?1'],
];
const CHARS = STATEMENTS.reduce((n, [, s]) => n + s.length, 0);
const OLD_REGEX = /'(?:[^']|'')*'|(?<![\w$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w])/gi;
const dialects = STATEMENTS.map(([system]) => sqlDialect(system));

const sqlVariants = {
  scanner: () => {
    let n = 0;
    for (let s = 0; s < STATEMENTS.length; s++) n += stripSqlLiterals(STATEMENTS[s][1], dialects[s]).length;
    return n;
  },
  regex: () => {
    let n = 0;
    for (const [, sql] of STATEMENTS) n += sql.replace(OLD_REGEX, '?').length;
    return n;
  },
};

// A request's spans (server, db, render), as in bench/export-soak-encoding.mjs, plus a messaging span with a URL.
const memory = new InMemorySpanExporter();
const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'bench' }), spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
const tracer = provider.getTracer('bench');
for (let n = 0; n < 128; n++) {
  const root = tracer.startSpan('GET /orders/:id', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': `/orders/${n}`, 'url.full': `http://shop.local/orders/${n}?page=2`, 'http.route': '/orders/:id', 'user_agent.original': 'Mozilla/5.0 (X11; Linux x86_64) bench', 'http.response.status_code': 200, 'server.address': 'shop.local', 'network.peer.address': '10.0.0.7' } });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql', 'db.query.text': STATEMENTS[1][1], 'db.namespace': 'shop', 'server.port': 5432 } }, ctx).end();
  tracer.startSpan('publish orders', { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'rabbitmq', 'messaging.destination.name': 'orders', 'messaging.url': 'amqp://app:pw@rabbit.local:5672/' } }, ctx).end();
  const render = tracer.startSpan('render', {}, ctx);
  render.setStatus({ code: SpanStatusCode.OK });
  render.end();
  root.end();
}
const spans = memory.getFinishedSpans();
const prepare = createPreparer({ redact: createRedactor() });
const spanVariants = {
  prepare: () => spans.map((s) => prepare(s)).length,
};

/** µs per call of each variant, median over rounds, each round running every variant once (interleaved). */
function measure(variants, callsPerRun, minMs = 20) {
  const names = Object.keys(variants);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) for (let w = 0; w < 200; w++) variants[n](); // warm up
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      let runs = 0;
      const start = process.hrtime.bigint();
      let elapsed = 0n;
      do {
        variants[n]();
        runs++;
        elapsed = process.hrtime.bigint() - start;
      } while (elapsed < BigInt(minMs) * 1_000_000n);
      samples[n].push(Number(elapsed) / 1000 / (runs * callsPerRun));
    }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(names.map((n) => [n, median(samples[n])]));
}

const sql = measure(sqlVariants, STATEMENTS.length);
const perSpan = measure(spanVariants, spans.length);
const perKb = (us) => (us * STATEMENTS.length * 1024) / CHARS;

const section = [
  '<!-- redaction:start -->',
  '## @waggle/node — default redaction at span end (`bench/redaction.mjs`)',
  '',
  `${STATEMENTS.length} statements (pg, mysql2, Sequelize and SQLite shapes, ${Math.round(CHARS / STATEMENTS.length)} characters on average), ${rounds} interleaved rounds, median; Node ${process.version}, ${new Date().toISOString()}.`,
  '',
  '| what | µs per statement | µs per KiB of SQL |',
  '|---|---|---|',
  `| SQL literal scanner (\`stripSqlLiterals\`, dialect from db.system.name) | ${sql.scanner.toFixed(2)} | ${perKb(sql.scanner).toFixed(2)} |`,
  `| for reference: the single regex it replaced (misses \\\\', "…", $$, comments, hex) | ${sql.regex.toFixed(2)} | ${perKb(sql.regex).toFixed(2)} |`,
  '',
  `Limits + redaction for a request's spans (server with url.full, db with db.query.text, producer with messaging.url, internal): **${perSpan.prepare.toFixed(2)} µs per span**. The db statement repeats, as parameterised statements do, so after the first span it comes from the redactor's statement cache.`,
  '<!-- redaction:end -->',
].join('\n');
const resultsPath = `${here}RESULTS.md`;
let doc = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '# Benchmark results\n';
const re = /<!-- redaction:start -->[\s\S]*?<!-- redaction:end -->/;
doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
writeFileSync(resultsPath, doc);
console.log(section);

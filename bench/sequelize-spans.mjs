#!/usr/bin/env node
// Spans per request on a real Sequelize + PostgreSQL REST app (a RealWorld "Conduit" API), Waggle against stock
// OpenTelemetry on the same requests. Not timing-sensitive: it counts what each tracer sends.
//
//   node bench/sequelize-spans.mjs --app /path/to/Conduit_NodeJS [--before /path/to/older-waggle-checkout] [--no-write]
//
// The app: github.com/Varun-Hegde/Conduit_NodeJS (express 4.17.1, body-parser 1.19, sequelize 6.5, pg 8.5), checked
// out outside this repository, its dbConnection.js pointed at DB_NAME on 127.0.0.1:5432 (user postgres), `bcrypt`
// installed as `npm:bcryptjs` (bcrypt's prebuilt binaries come from GitHub). This script links @waggle/node and
// @waggle/instrumentation-sequelize (from this checkout, or from --before's built checkout for the "before" column)
// into the app's node_modules (as an app that installed them has them), creates a
// fresh database per variant, waits for the app's sequelize.sync(), drives one user session of the RealWorld API,
// and counts the spans each request's trace holds at the sink, plus spans outside any request's trace.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startReceiver } from '@waggle/testing';

const repo = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    app: { type: 'string' },
    before: { type: 'string' },
    variants: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
  },
});
if (!values.app || !existsSync(join(values.app, 'index.js'))) {
  process.stderr.write('usage: node bench/sequelize-spans.mjs --app <Conduit_NodeJS checkout> [--before <built Waggle checkout>] [--variants a,b] [--no-write]\n');
  process.exit(2);
}
const appDir = resolve(values.app);
const before = values.before === undefined ? undefined : resolve(values.before);

const otlpEnv = (url) => ({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_BSP_SCHEDULE_DELAY: '200' });
const VARIANTS = [
  ...(before === undefined
    ? []
    : [{ name: 'waggle-before', label: `Waggle before (${commitOf(before)})`, root: before, args: ['--import', '@waggle/node/register'], env: {} }]),
  { name: 'waggle', label: `Waggle (${commitOf(repo)}), default`, root: repo, args: ['--import', '@waggle/node/register'], env: {} },
  { name: 'waggle-full', label: 'same, `WAGGLE_SEQUELIZE_SPANS=full`', root: repo, args: ['--import', '@waggle/node/register'], env: { WAGGLE_SEQUELIZE_SPANS: 'full' } },
  {
    name: 'otel-auto',
    label: 'stock `--import @opentelemetry/auto-instrumentations-node/register`',
    args: ['--import', import.meta.resolve('@opentelemetry/auto-instrumentations-node/register')],
    env: { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' },
  },
];
const selected = VARIANTS.filter((v) => (values.variants ? values.variants.split(',').includes(v.name) : true));

/** One user session of the RealWorld API: [label, method, path, body?]; `{slug}` and the token are filled in. */
const SESSION = [
  ['register', 'POST', '/api/users', { user: { username: 'ann', email: 'ann@example.com', password: 'pw-ann-1' } }],
  ['register (2nd user)', 'POST', '/api/users', { user: { username: 'bob', email: 'bob@example.com', password: 'pw-bob-1' } }],
  ['login', 'POST', '/api/users/login', { user: { email: 'ann@example.com', password: 'pw-ann-1' } }],
  ['current user', 'GET', '/api/user'],
  ['create article, 3 tags', 'POST', '/api/articles', { article: { title: 'How to trace', description: 'd', body: 'b', tagList: ['otel', 'node', 'sql'] } }],
  ['get article', 'GET', '/api/articles/{slug}'],
  ['list articles', 'GET', '/api/articles'],
  ['list articles by tag', 'GET', '/api/articles?tag=otel'],
  ['favorite', 'POST', '/api/articles/{slug}/favorite'],
  ['comment', 'POST', '/api/articles/{slug}/comments', { comment: { body: 'nice' } }],
  ['list comments', 'GET', '/api/articles/{slug}/comments'],
  ['follow', 'POST', '/api/profiles/bob/follow'],
  ['profile', 'GET', '/api/profiles/bob'],
  ['feed', 'GET', '/api/articles/feed'],
  ['update article', 'PATCH', '/api/articles/{slug}', { article: { body: 'b2' } }],
  ['tags', 'GET', '/api/tags'],
  ['unfavorite', 'DELETE', '/api/articles/{slug}/favorite'],
  ['not found', 'GET', '/api/nope'],
];

function freePort() {
  return new Promise((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Links the Waggle packages an app would install into the app's node_modules, from `waggleRoot`; returns an undo function. */
function linkWaggle(waggleRoot) {
  const made = [];
  for (const [pkg, dir] of [['@waggle/node', 'packages/node'], ['@waggle/instrumentation-sequelize', 'packages/instrumentation-sequelize']]) {
    const link = join(appDir, 'node_modules', pkg);
    if (existsSync(link) && !lstatSync(link).isSymbolicLink()) throw new Error(`${link} exists and is not a link; not touching it`);
    rmSync(link, { force: true });
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(waggleRoot, dir), link, 'dir');
    made.push(link);
  }
  return () => {
    for (const link of made) rmSync(link, { force: true });
  };
}

async function withDatabase(fn) {
  const name = `conduit_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  try {
    return await fn(name);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function request(base, method, path, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Token ${token}`;
  const response = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json };
}

/** Waits until no new span arrived for `quietMs`. */
async function settle(receiver, quietMs = 1500) {
  let count = -1;
  for (let i = 0; i < 40 && count !== receiver.spans.length; i++) {
    count = receiver.spans.length;
    await sleep(quietMs);
  }
}

async function measure(variant, receiver) {
  return withDatabase(async (database) => {
    const port = await freePort();
    const service = `conduit-${variant.name}`;
    const child = spawn(process.execPath, [...variant.args, 'index.js'], {
      cwd: appDir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), DB_NAME: database, OTEL_SERVICE_NAME: service, ...otlpEnv(receiver.url), ...variant.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    child.stdout.resume();
    const base = `http://127.0.0.1:${port}`;
    try {
      // The app runs sequelize.sync({ alter: true }) without awaiting it: ready when the last table answers.
      for (let i = 0; ; i++) {
        const ok = await request(base, 'GET', '/api/articles').then((r) => r.status === 200, () => false);
        if (ok) break;
        if (i > 300) throw new Error(`app did not get ready: ${stderr}`);
        await sleep(100);
      }
      await settle(receiver);
      receiver.clear();
      let token;
      let slug;
      const rows = [];
      for (const [label, method, rawPath, body] of SESSION) {
        const path = rawPath.replace('{slug}', slug ?? 'none');
        const answer = await request(base, method, path, body, label.startsWith('register') ? undefined : token);
        if (label === 'login') token = answer.json?.user?.token;
        if (label.startsWith('create article')) slug = answer.json?.article?.slug;
        rows.push({ label, method, path: rawPath, status: answer.status });
        // Sequential requests; fire-and-forget queries of a handler (the app does not await article.addTag) finish
        // before the next request starts.
        await sleep(150);
      }
      await settle(receiver);
      const spans = receiver.spans.filter((s) => s.serviceName === service);
      const servers = spans.filter((s) => s.kindName === 'server');
      const traceIds = new Set(servers.map((s) => s.traceId));
      for (const row of rows) {
        const server = servers.find((s) => s.attributes['http.request.method'] === row.method && matches(row, s) && !row.server && !servers.claimed?.has(s));
        servers.claimed ??= new Set();
        if (server) servers.claimed.add(server);
        row.server = server;
        row.spans = server ? spans.filter((s) => s.traceId === server.traceId).length : 0;
        row.db = server ? spans.filter((s) => s.traceId === server.traceId && isDbQuery(s)).length : 0;
        row.poolWaits = server ? spans.filter((s) => s.traceId === server.traceId && (s.attributes['sequelize.pool.wait_ms'] !== undefined)).length : 0;
        row.rollupDb = server?.attributes['rollup.db.count'];
      }
      const outside = spans.filter((s) => !traceIds.has(s.traceId)).length;
      return { variant, rows, total: spans.length, outside, requests: rows.length };
    } finally {
      // Every span has arrived (settle); the stock register does not exit on SIGTERM.
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
}

/** The SERVER span's url.path is the concrete path; the session's path has `{slug}`. */
function matches(row, span) {
  const pattern = new RegExp(`^${row.path.split('?')[0].replace('{slug}', '[^/]+')}$`);
  return pattern.test(String(span.attributes['url.path']));
}

function isDbQuery(span) {
  const a = span.attributes;
  return span.kindName === 'client' && (a['db.system.name'] !== undefined || a['db.system'] !== undefined);
}

const receiver = await startReceiver();
const load = loadavg()[0];
const results = [];
try {
  for (const variant of selected) {
    process.stderr.write(`bench: ${variant.name} …\n`);
    const unlink = linkWaggle(variant.root ?? repo);
    try {
      const r = await measure(variant, receiver);
      process.stderr.write(`bench: ${variant.name}: ${r.total} spans for ${r.requests} requests (${(r.total / r.requests).toFixed(1)}/request), ${r.outside} outside request traces\n`);
      results.push(r);
    } finally {
      unlink();
    }
  }
} finally {
  await receiver.close();
}

const section = render(results);
process.stdout.write(`${section}\n`);
if (!values['no-write']) writeSection(section);

function render(all) {
  const lines = [
    '## @waggle/instrumentation-sequelize — spans per request on a RealWorld API',
    '',
    `Generated by \`node bench/sequelize-spans.mjs --app <Conduit_NodeJS>${before ? ' --before <checkout>' : ''}\` on ${new Date().toISOString().slice(0, 10)}; ` +
      `${cpus().length} CPUs, load average ${load.toFixed(1)}; Node ${process.versions.node}.`,
    'App: github.com/Varun-Hegde/Conduit_NodeJS (express 4.17.1 + body-parser 1.19, sequelize 6.5, pg 8.5, PostgreSQL on 127.0.0.1), one',
    'user session of its API, requests one after another; spans counted at an OTLP sink, per request trace. "outside" is spans in no',
    'request\'s trace (lost context: new root traces). "db spans" are CLIENT spans with db.system; "pool wait on" counts spans carrying',
    '`sequelize.pool.wait_ms`.',
    '',
    `| request | ${all.map((r) => r.variant.label).join(' | ')} |`,
    `|---|${all.map(() => '---|').join('')}`,
  ];
  for (let i = 0; i < all[0].rows.length; i++) {
    const label = `${all[0].rows[i].label} (${all[0].rows[i].status})`;
    lines.push(`| ${label} | ${all.map((r) => `${r.rows[i].spans} (db ${r.rows[i].db}, pool wait on ${r.rows[i].poolWaits}${r.rows[i].rollupDb === undefined ? '' : `, rollup.db.count ${r.rows[i].rollupDb}`})`).join(' | ')} |`);
  }
  lines.push(`| **all ${all[0].requests} requests: spans/request** | ${all.map((r) => `**${(r.total / r.requests).toFixed(1)}** (${r.total} spans, ${r.outside} outside)`).join(' | ')} |`);
  lines.push(
    '',
    'rollup.db.count is the request\'s logical queries that ended before its response: a Sequelize query counts once (not again for',
    'a pg span under it), and the app does not await `article.addTag()`, so those queries end after the response.',
  );
  if (before) {
    lines.push(
      '"Waggle before" is the checkout given with --before: there every query was three spans (Sequelize, pool acquire, pg), and',
      'requests whose body body-parser 1.19 read lost their context, so their queries are counted in "outside", not in the request.',
    );
  }
  const statuses = all.map((r) => r.rows.map((row) => row.status).join(','));
  lines.push('', statuses.every((s) => s === statuses[0]) ? 'Every variant got the same status codes.' : `Status codes differ between variants: ${statuses.join(' / ')}`);
  return lines.join('\n');
}

function commitOf(dir) {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return dir;
  }
}

function writeSection(text) {
  const file = new URL('./RESULTS.md', import.meta.url);
  const begin = '<!-- @waggle/instrumentation-sequelize spans:begin -->';
  const end = '<!-- @waggle/instrumentation-sequelize spans:end -->';
  const current = readFileSync(file, 'utf8');
  const block = `${begin}\n${text}\n${end}`;
  const at = current.indexOf(begin);
  const next = at === -1 ? `${current.trimEnd()}\n\n${block}\n` : current.slice(0, at) + block + current.slice(current.indexOf(end) + end.length);
  writeFileSync(file, next);
}

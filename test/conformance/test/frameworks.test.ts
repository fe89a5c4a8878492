// The framework conformance suite: each version set's app (test/conformance/sets/*, installed with
// `npm ci --prefix test/conformance/sets/<set>`) runs as a child process without Waggle, under
// `--import @waggle/node/register` and under `--require @waggle/node/register`; every request goes through one
// middleware pattern and calls pg, ioredis, http.get, fetch and a BullMQ add. Checked for every request and form:
// one SERVER span with the full route template, every downstream span in its trace under it (and the traceparent the
// downstream server received in that trace), nothing outside a request's trace, the exception on the SERVER span for
// a failing request, and the same answers as without Waggle.
import { startReceiver, type OtlpReceiver } from '@waggle/testing';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendsFrom, Downstream, DOWNSTREAM_SPANS, ROOT, runApp, serverSpanOf, servicesUp, setInstalled, type Case, type Form, type Run } from './harness.js';

const json = () => JSON.stringify({ order: 7, items: ['a', 'b'] });
const post = (name: string, path: string, type: string, body: NonNullable<Case['body']>, route = path): Case => ({ name, method: 'POST', path, route, headers: { 'content-type': type }, body });

function expressCases(express5: boolean): Case[] {
  const cases: Case[] = [
    post('route-json', '/route/json', 'application/json', json),
    post('route-raw', '/route/raw', 'application/octet-stream', () => new Uint8Array([1, 2, 254, 255])),
    post('route-bp-json', '/route/bp-json', 'application/json', json),
    post('app-urlencoded', '/app/urlencoded', 'application/x-www-form-urlencoded', () => 'a=1&b=two'),
    post('app-text', '/app/text', 'text/plain', () => 'plain words'),
    post('router-use-json', '/sub/router-use-json', 'application/json', json),
    post('router-use-text', '/csv/router-use-text', 'text/csv', () => 'a,b,c'),
    { name: 'nested', method: 'GET', path: '/v1/orgs/42/items/7', route: '/v1/orgs/:orgId/items/:id' },
    {
      name: 'multer',
      method: 'POST',
      path: '/upload',
      route: '/upload',
      body: () => {
        const form = new FormData();
        form.append('note', 'receipt');
        form.append('file', new Blob(['x'.repeat(5000)], { type: 'text/plain' }), 'receipt.txt');
        return form;
      },
    },
    { name: 'session', method: 'GET', path: '/session/visit', route: '/session/visit' },
    { name: 'compression', method: 'GET', path: '/compressed', route: '/compressed', headers: { 'accept-encoding': 'gzip' } },
    { name: 'async', method: 'GET', path: '/async/5', route: '/async/:id' },
    { name: 'next-error', method: 'GET', path: '/errors/next/9', route: '/errors/next/:id', status: 500, exception: 'OrderNotFound' },
    { name: 'throw', method: 'GET', path: '/errors/throw', route: '/errors/throw', status: 500, exception: 'TypeError' },
  ];
  if (express5) cases.push({ name: 'async-throw', method: 'GET', path: '/errors/async-throw', route: '/errors/async-throw', status: 500, exception: 'RangeError' });
  return cases;
}

const KOA_CASES: Case[] = [
  post('route-json', '/route/json', 'application/json', json),
  post('app-form', '/app/form', 'application/x-www-form-urlencoded', () => 'a=1&b=two'),
  post('app-text', '/app/text', 'text/plain', () => 'plain words'),
  { name: 'nested', method: 'GET', path: '/v1/orgs/42/items/7', route: '/v1/orgs/:orgId/items/:id' },
  { name: 'throw', method: 'GET', path: '/errors/throw/3', route: '/errors/throw/:id', status: 500, exception: 'OrderNotFound' },
];

const FASTIFY_CASES: Case[] = [
  post('route-json', '/route/json', 'application/json', json),
  post('parser-csv', '/parser/csv', 'text/csv', () => 'a,b,c'),
  post('parser-string', '/parser/string', 'application/x-custom', () => 'custom body'),
  { name: 'nested', method: 'GET', path: '/v1/orgs/42/items/7', route: '/v1/orgs/:orgId/items/:id' },
  { name: 'throw', method: 'GET', path: '/errors/throw/3', route: '/errors/throw/:id', status: 500, exception: 'OrderNotFound' },
];

const SETS: Array<{ set: string; framework: string; app: string; cases: Case[] }> = [
  { set: 'express-4.16', framework: 'express', app: 'express.cjs', cases: expressCases(false) },
  { set: 'express-4.17', framework: 'express', app: 'express.cjs', cases: expressCases(false) },
  { set: 'express-4.18', framework: 'express', app: 'express.cjs', cases: expressCases(false) },
  { set: 'express-4.21', framework: 'express', app: 'express.cjs', cases: expressCases(false) },
  { set: 'express-5', framework: 'express', app: 'express.cjs', cases: expressCases(true) },
  { set: 'koa-2', framework: 'koa', app: 'koa.cjs', cases: KOA_CASES },
  { set: 'koa-3', framework: 'koa', app: 'koa.cjs', cases: KOA_CASES },
  { set: 'fastify-4', framework: 'fastify', app: 'fastify.cjs', cases: FASTIFY_CASES },
  { set: 'fastify-5', framework: 'fastify', app: 'fastify.cjs', cases: FASTIFY_CASES },
];
const TRACED: Form[] = ['--import', '--require'];

it('runs every version set directory there is', () => {
  expect(SETS.map((s) => s.set).toSorted()).toEqual(readdirSync(`${ROOT}sets`).toSorted());
});

const services = await servicesUp();
let receiver: OtlpReceiver;
const downstream = new Downstream();
beforeAll(async () => {
  receiver = await startReceiver();
  await downstream.start();
});
afterAll(async () => {
  await receiver?.close();
  await downstream.close();
});

for (const { set, framework, app, cases } of SETS) {
  describe.skipIf(!services || !setInstalled(set, framework))(set, () => {
    const runs = new Map<Form, Run>();
    beforeAll(async () => {
      for (const form of ['bare', ...TRACED] as Form[]) runs.set(form, await runApp(set, app, form, cases, receiver, downstream));
    });

    it('answers every request as it does without Waggle (status, type, encoding, cookie, body)', () => {
      const bare = runs.get('bare')!;
      for (const c of cases) expect(bare.answers.get(c.name)!.status, `${c.name} without Waggle`).toBe(c.status ?? 200);
      for (const form of TRACED) {
        for (const c of cases) expect(runs.get(form)!.answers.get(c.name), `${form} ${c.name}`).toEqual(bare.answers.get(c.name));
      }
    });

    it.each(TRACED)('%s: one SERVER span per request, with http.route the full template', (form) => {
      const run = runs.get(form)!;
      const problems: string[] = [];
      for (const c of cases) {
        const servers = serverSpanOf(run, c);
        if (servers.length !== 1) problems.push(`${c.name}: ${servers.length} SERVER spans`);
        const route = servers[0]?.attributes['http.route'];
        if (route !== c.route) problems.push(`${c.name}: http.route ${String(route)}, not ${c.route}`);
      }
      expect(problems).toEqual([]);
    });

    it.each(TRACED)('%s: every downstream call is in the request\'s trace, under its SERVER span', (form) => {
      const run = runs.get(form)!;
      const problems: string[] = [];
      for (const c of cases) {
        const server = serverSpanOf(run, c)[0];
        if (server === undefined) {
          problems.push(`${c.name}: no SERVER span`);
          continue;
        }
        const trace = run.spans.filter((s) => s.traceId === server.traceId);
        for (const { call, matches } of DOWNSTREAM_SPANS) {
          const found = trace.filter(matches);
          if (found.length === 0) problems.push(`${c.name}: no ${call} span in the request's trace`);
          for (const span of found) if (!descendsFrom(trace, span, server)) problems.push(`${c.name}: ${call} span is not under the SERVER span`);
        }
        for (const span of trace) if (!descendsFrom(trace, span, server)) problems.push(`${c.name}: ${span.name} is in the trace but not under the SERVER span`);
        for (const call of ['get', 'fetch']) {
          const traceparent = run.downstream.get(`${c.name} ${call}`);
          if (traceparent?.split('-')[1] !== server.traceId) problems.push(`${c.name}: the ${call} request carried traceparent ${traceparent}, not the request's trace`);
        }
      }
      // A span outside every request's trace is a trace the request lost (a new root). The runtime package's own
      // process spans (process.start) belong to no request.
      const requestTraces = new Set(cases.flatMap((c) => serverSpanOf(run, c).map((s) => s.traceId)));
      for (const span of run.spans) {
        if (!requestTraces.has(span.traceId) && span.scope.name !== '@waggle/instrumentation-runtime') problems.push(`outside any request: ${span.kindName} ${span.name}`);
      }
      expect(problems).toEqual([]);
    });

    it.each(TRACED)('%s: a failing request\'s exception is on its SERVER span; error.type stays the status', (form) => {
      const run = runs.get(form)!;
      for (const c of cases) {
        const server = serverSpanOf(run, c)[0]!;
        if (c.exception === undefined) {
          expect(server.attributes['exception.type'], c.name).toBeUndefined();
          continue;
        }
        expect(server.attributes, c.name).toMatchObject({ 'exception.type': c.exception, 'error.type': '500' });
        expect(String(server.attributes['exception.message']), c.name).not.toBe('');
        expect(String(server.attributes['exception.stacktrace']), c.name).toContain(`${c.exception}: `);
        expect(server.events.filter((e) => e.name === 'exception'), c.name).toHaveLength(1);
      }
    });
  });
}

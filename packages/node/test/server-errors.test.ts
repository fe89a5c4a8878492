// Exceptions that reach a framework's error handling go on the SERVER span (framework spans off), with the real
// express 4 and 5 in this process; unhandled rejections in a handler, in a child process (Node's outcome unchanged).
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { startReceiver, type OtlpReceiver } from '@waggle/testing';
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ExpressRouteInstrumentation } from '../src/express-route.js';
import { FrameworkErrorInstrumentation } from '../src/server-errors.js';
import { FIXTURES, startApp, type App } from './helpers/child.js';
import { installTracing, uninstallTracing } from './helpers/in-process.js';

const exporter = new InMemorySpanExporter();
const instrumentations: Array<{ disable(): void }> = [];
const servers: Server[] = [];

beforeAll(() => {
  const { provider, http } = installTracing(exporter);
  instrumentations.push(http);
  for (const created of [new ExpressRouteInstrumentation(), new FrameworkErrorInstrumentation()]) {
    created.setTracerProvider(provider);
    instrumentations.push(created);
  }
});
afterAll(async () => {
  for (const i of instrumentations) i.disable();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  uninstallTracing();
});
beforeEach(() => exporter.reset());

type Express = ((...args: unknown[]) => { use: Function; get: Function; listen: Function }) & { Router: () => { get: Function; use: Function } };

/** One app on `express`: routes that fail in each way an express app can. */
async function listen(express: Express): Promise<string> {
  const app = express();
  const api = express.Router();
  api.get('/throws/:id', () => {
    throw new TypeError('cannot read the cart');
  });
  api.get('/next-error', (_req: unknown, _res: unknown, next: (e?: unknown) => void) => next(new RangeError('quantity out of range')));
  api.get('/skip', (_req: unknown, _res: unknown, next: (e?: unknown) => void) => next('route'));
  app.use('/api', api);
  app.get('/unhandled', (_req: unknown, _res: unknown, next: (e?: unknown) => void) => next(new Error('nobody handles this')));
  app.get('/ok', (_req: unknown, res: { send: (b: string) => void }) => res.send('ok'));
  // A logging error middleware that passes the error on, then the one that answers.
  app.use('/api', (err: Error, _req: unknown, _res: unknown, next: (e?: unknown) => void) => next(err));
  app.use('/api', (err: Error, _req: unknown, res: { status: (n: number) => { json: (b: unknown) => void } }, _next: unknown) => res.status(500).json({ message: err.message }));
  const server = (await new Promise((resolve) => {
    const s: Server = app.listen(0, '127.0.0.1', () => resolve(s));
  })) as Server;
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function serverSpanFor(url: string, status: number): Promise<ReadableSpan> {
  const response = await fetch(url);
  await response.text();
  expect(response.status, url).toBe(status);
  const path = new URL(url).pathname;
  for (let i = 0; i < 100; i++) {
    const span = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === path);
    if (span) return span;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no SERVER span for ${path}`);
}

const require = createRequire(import.meta.url);
const express4Path = `${FIXTURES}express4/node_modules/express`;
const versions: Array<[string, () => Express]> = [['express 5', () => require('express') as Express]];
if (existsSync(express4Path)) versions.push(['express 4', () => require(express4Path) as Express]);
else if (process.env.CI === 'true') throw new Error('express 4 fixture not installed: run `npm ci --prefix packages/node/test/fixtures/express4`');

describe.each(versions)('%s: the exception that reached error handling is on the SERVER span', (_name, load) => {
  let base = '';
  beforeAll(async () => {
    base = await listen(load());
  });

  it('a handler that throws, answered by an error middleware: exception event and fields; error.type stays the status', async () => {
    const span = await serverSpanFor(`${base}/api/throws/7`, 500);
    expect(span.attributes).toMatchObject({
      'http.route': '/api/throws/:id',
      'error.type': '500',
      'exception.type': 'TypeError',
      'exception.message': 'cannot read the cart',
    });
    expect(String(span.attributes['exception.stacktrace'])).toMatch(/^TypeError: cannot read the cart\n\s+at /);
    const events = span.events.filter((e) => e.name === 'exception');
    expect(events).toHaveLength(1);
    expect(events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'cannot read the cart' });
  });

  it('next(err) through two error middlewares is one exception', async () => {
    const span = await serverSpanFor(`${base}/api/next-error`, 500);
    expect(span.attributes['exception.type']).toBe('RangeError');
    expect(span.events.filter((e) => e.name === 'exception')).toHaveLength(1);
  });

  it('an error no middleware handles reaches express\'s final handler and is recorded', async () => {
    const span = await serverSpanFor(`${base}/unhandled`, 500);
    expect(span.attributes).toMatchObject({ 'exception.type': 'Error', 'exception.message': 'nobody handles this', 'error.type': '500' });
  });

  it('next(\'route\'), a 404 and a success record nothing', async () => {
    for (const [path, status] of [['/api/skip', 404], ['/nope', 404], ['/ok', 200]] as const) {
      const span = await serverSpanFor(`${base}${path}`, status);
      expect(span.attributes['exception.message'], path).toBeUndefined();
      expect(span.events, path).toHaveLength(0);
    }
  });
});

describe('an unhandled rejection in a request handler', () => {
  let receiver: OtlpReceiver;
  const apps: App[] = [];
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const app of apps) app.stop();
    await receiver.close();
  });

  it('with the app\'s own unhandledRejection listener: recorded on the SERVER span, and the app carries on', async () => {
    const app = await startApp(['--import', '@waggle/node/register', 'unhandled-rejection.mjs'], { APP_LISTENS: '1', OTEL_SERVICE_NAME: 'rejects-listened', OTEL_BSP_SCHEDULE_DELAY: '100' }, receiver);
    apps.push(app);
    // The handler never answers: the client gives up, which ends the SERVER span as aborted.
    await expect(fetch(`${app.url}/orders/1`, { signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(await (await fetch(`${app.url}/ok`)).text()).toBe('ok');
    const [span] = await receiver.waitForSpans({ name: 'GET', where: (s) => s.serviceName === 'rejects-listened' && s.attributes['url.path'] === '/orders/1' });
    expect(span!.attributes).toMatchObject({ 'exception.type': 'PaymentDeclined', 'exception.message': 'card declined for /orders/1', 'error.type': 'aborted' });
    expect(app.stderr()).toContain('app saw: card declined for /orders/1');
  });

  it('without one, Node still ends the process with its usual message and exit code, and the crash capture exports the span with it', async () => {
    const app = await startApp(['--import', '@waggle/node/register', 'unhandled-rejection.mjs'], { OTEL_SERVICE_NAME: 'rejects-crash', OTEL_BSP_SCHEDULE_DELAY: '100' }, receiver);
    apps.push(app);
    await fetch(`${app.url}/orders/2`).catch(() => undefined);
    const exit = await app.exited;
    expect(exit.code).toBe(1);
    expect(app.stderr()).toMatch(/PaymentDeclined: card declined for \/orders\/2/);
    // @waggle/instrumentation-runtime (installed here) ends the interrupted SERVER span before the process goes.
    const [span] = await receiver.waitForSpans({ name: 'GET', where: (s) => s.serviceName === 'rejects-crash' && s.attributes['url.path'] === '/orders/2' });
    expect(span!.attributes).toMatchObject({ 'exception.type': 'PaymentDeclined', 'process.crashed': true });
  });
});

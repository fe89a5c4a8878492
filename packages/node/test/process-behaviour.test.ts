// Must show 1 (continued): how the distro behaves as part of a process — signals, warnings, bad settings.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNode, serviceAvailable, startReceiver, type OtlpReceiver } from '@waggle/testing';
import { FIXTURES, NO_EXPORT_ENV, startApp, type App } from './helpers/child.js';

let receiver: OtlpReceiver;
const apps: App[] = [];
const pgUp = await serviceAvailable('postgres');
// These apps export OTLP/JSON, so http/json is exercised end to end as well as the default protobuf.
const env = (extra: Record<string, string> = {}) => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  // A long batch delay: spans only leave the process early if the shutdown path flushes them.
  OTEL_BSP_SCHEDULE_DELAY: '60000',
  ...extra,
});
async function launch(args: string[], envVars: Record<string, string | undefined>): Promise<App> {
  const app = await startApp(args, envVars);
  apps.push(app);
  return app;
}

beforeAll(async () => {
  receiver = await startReceiver();
});
afterEach(() => {
  for (const app of apps.splice(0)) app.stop();
});
afterAll(async () => receiver?.close());

describe('signals', () => {
  it.skipIf(!pgUp)('SIGTERM flushes the spans and the process ends by SIGTERM within 3 s, as Node would', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'express.mjs'], env({ OTEL_SERVICE_NAME: 'sigterm-app' }));
    expect((await fetch(`${app.url}/users/1`)).status).toBe(200);
    const sentAt = Date.now();
    app.kill('SIGTERM');
    const exit = await app.exited;
    expect(Date.now() - sentAt).toBeLessThan(3000);
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(receiver.spans.some((s) => s.serviceName === 'sigterm-app' && s.name === 'GET /users/:id')).toBe(true);
  });

  it('SIGINT behaves the same way: flush, then the process ends by SIGINT', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], env({ OTEL_SERVICE_NAME: 'sigint-app' }));
    expect((await fetch(`${app.url}/hello`)).status).toBe(200);
    app.kill('SIGINT');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(receiver.spans.some((s) => s.serviceName === 'sigint-app' && s.attributes['http.route'] === '/hello')).toBe(true);
  });

  it('when the app has its own SIGTERM handler Waggle only flushes and the app decides the exit', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'own-sigterm.mjs'], env({ OTEL_SERVICE_NAME: 'own-handler' }));
    expect((await fetch(app.url)).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 7, signal: null });
    expect(receiver.spans.some((s) => s.serviceName === 'own-handler')).toBe(true);
  });
});

describe('exit without a signal', () => {
  it('a script that ends on its own still delivers its spans (flush on beforeExit) and exits 0', async () => {
    const script = runNode({
      script: `${FIXTURES}short-script.mjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: FIXTURES,
      receiver,
      env: { OTEL_SERVICE_NAME: 'short-script', OTEL_BSP_SCHEDULE_DELAY: '60000' },
    });
    expect(await script.waitForExit({ timeoutMs: 30_000 })).toEqual({ code: 0, signal: null });
    expect(receiver.spans.some((s) => s.serviceName === 'short-script' && s.name === 'nightly report')).toBe(true);
  });
});

/** A URL nothing listens on: a port the kernel handed out and took back. */
async function closedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
const lossLines = (stderr: string) => stderr.split('\n').filter((l) => l.includes('WAGGLE_EXPORT_LOSS'));

describe('spans that could not be sent are reported when the process ends', () => {
  it('SIGTERM after 5 requests to an app whose endpoint refuses connections: one loss line with the count and the endpoint', async () => {
    const endpoint = await closedEndpoint();
    // Only the http instrumentation, so the 5 server spans are all there is to lose.
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, WAGGLE_INSTRUMENTATIONS: 'http' });
    for (let i = 0; i < 5; i++) expect((await fetch(`${app.url}/hello`)).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(lossLines(app.stderr())).toEqual([
      expect.stringMatching(new RegExp(`^waggle: WAGGLE_EXPORT_LOSS dropped 5 spans in the last \\d+s: backend_unavailable=5 \\(.*ECONNREFUSED.*\\); sending to ${endpoint}/v1/traces$`)),
    ]);
  });

  it('a script that ends on its own within the report interval says what it could not send, and exits 0', async () => {
    const endpoint = await closedEndpoint();
    const script = runNode({
      script: `${FIXTURES}short-script.mjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: FIXTURES,
      env: { ...NO_EXPORT_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, WAGGLE_INSTRUMENTATIONS: 'http' },
    });
    expect(await script.waitForExit({ timeoutMs: 30_000 })).toEqual({ code: 0, signal: null });
    expect(lossLines(script.stderr)).toEqual([expect.stringMatching(new RegExp(`dropped 1 span in the last \\d+s: backend_unavailable=1 .*; sending to ${endpoint}/v1/traces$`))]);
  });

  it('an app with its own SIGTERM handler that exits: the loss line comes from exit', async () => {
    const endpoint = await closedEndpoint();
    const app = await launch(['--import', '@waggle/node/register', 'own-sigterm.mjs'], { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, WAGGLE_INSTRUMENTATIONS: 'http' });
    expect((await fetch(app.url)).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: 7, signal: null });
    expect(lossLines(app.stderr())).toEqual([expect.stringMatching(new RegExp(`dropped 1 span .*backend_unavailable=1 .*; sending to ${endpoint}/v1/traces$`))]);
  });

  it('a healthy app stopped by SIGTERM reports no loss', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], env({ WAGGLE_INSTRUMENTATIONS: 'http' }));
    expect((await fetch(`${app.url}/hello`)).status).toBe(200);
    app.kill('SIGTERM');
    expect(await app.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(lossLines(app.stderr())).toEqual([]);
  });
});

describe('startup diagnostics', () => {
  it('a library loaded before Waggle prints one warning naming it and the fix', async () => {
    const app = await launch(['preloaded.cjs'], env({ OTEL_SERVICE_NAME: 'preloaded' }));
    const lines = app.stderr().split('\n').filter((l) => l.includes('WAGGLE_LOADED_TOO_LATE'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('express');
    expect(lines[0]).toContain('node --import @waggle/node/register');
  });

  it('the --import form warns about nothing', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], env({ OTEL_SERVICE_NAME: 'quiet' }));
    expect(app.stderr()).toBe('');
  });

  it('bad environment values print one clear line each, never the secret, and the app still serves traced', async () => {
    const app = await launch(
      ['--import', '@waggle/node/register', 'http.mjs'],
      env({
        OTEL_SERVICE_NAME: 'bad-env',
        OTEL_TRACES_SAMPLER: 'sometimes',
        HONEYCOMB_REGION: 'mars',
        OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer s3cr3t-token,broken',
        OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'nosuchlib',
        OTEL_BSP_SCHEDULE_DELAY: '100',
      }),
    );
    expect((await fetch(`${app.url}/hello`)).status).toBe(200);
    const stderr = app.stderr();
    expect(stderr).toContain('WAGGLE_CONFIG_INVALID OTEL_TRACES_SAMPLER="sometimes" is not valid; accepted: always_on');
    expect(stderr).toContain('WAGGLE_CONFIG_INVALID HONEYCOMB_REGION="mars" is not valid; accepted: us or eu');
    expect(stderr).toContain('WAGGLE_CONFIG_INVALID OTEL_EXPORTER_OTLP_TIMEOUT="soon" is not valid; accepted: a positive whole number');
    expect(stderr).toContain('WAGGLE_CONFIG_INVALID OTEL_EXPORTER_OTLP_HEADERS=(hidden)');
    expect(stderr).toContain('WAGGLE_CONFIG_INVALID OTEL_NODE_DISABLED_INSTRUMENTATIONS="nosuchlib"');
    expect(stderr).not.toContain('s3cr3t');
    for (const line of stderr.trim().split('\n')) expect(line).toMatch(/^waggle: WAGGLE_[A-Z_]+ /);
    await receiver.waitForSpans((spans) => spans.some((s) => s.serviceName === 'bad-env' && s.attributes['http.route'] === '/hello'));
  });

  it('with no key and no endpoint spans go to the local backend and one line says so', async () => {
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], { ...NO_EXPORT_ENV, OTEL_SERVICE_NAME: 'local-default' });
    const lines = app.stderr().trim().split('\n');
    expect(lines).toEqual([expect.stringContaining('WAGGLE_DESTINATION')]);
    expect(lines[0]).toContain('http://127.0.0.1:4318');
  });

  it('trace links: one line per local root span pointing at the local UI', async () => {
    const app = await launch(
      ['--import', '@waggle/node/register', 'http.mjs'],
      env({ OTEL_SERVICE_NAME: 'links', WAGGLE_TRACE_LINKS: 'true', WAGGLE_UI_URL: 'http://127.0.0.1:4318', OTEL_BSP_SCHEDULE_DELAY: '100' }),
    );
    await fetch(`${app.url}/hello`);
    await fetch(`${app.url}/hello`);
    // Two requests → two SERVER roots. Other local roots (the runtime package's process.start span) get links too.
    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.serviceName === 'links' && s.kindName === 'server').length >= 2);
    const serverTraceIds = spans.filter((s) => s.serviceName === 'links' && s.kindName === 'server').map((s) => s.traceId);
    const links = app.stderr().split('\n').filter((l) => l.includes('WAGGLE_TRACE_LINK ')).map((l) => l.replace(/^.* /, ''));
    for (const link of links) expect(link).toMatch(/^http:\/\/127\.0\.0\.1:4318\/#\/trace\/[0-9a-f]{32}$/);
    expect(new Set(links).size).toBe(links.length);
    for (const id of serverTraceIds) expect(links).toContain(`http://127.0.0.1:4318/#/trace/${id}`);
  });
});

describe('Honeycomb trace links', () => {
  it('link to the Honeycomb UI with team and environment from /1/auth, on the EU host for HONEYCOMB_REGION=eu', async () => {
    const key = 'Xk3jP9sA0bC1dE2fG3hI4j';
    const honeycomb = await launch(['honeycomb-auth.mjs'], { EXPECTED_KEY: key });
    const app = await launch(['--import', '@waggle/node/register', 'http.mjs'], {
      ...NO_EXPORT_ENV,
      OTEL_SERVICE_NAME: 'hc-links',
      HONEYCOMB_API_KEY: key,
      HONEYCOMB_REGION: 'eu',
      HONEYCOMB_API_ENDPOINT: honeycomb.url,
      WAGGLE_TRACE_LINKS: 'true',
    });
    await fetch(`${app.url}/hello`);
    await app.process.waitForOutput(/WAGGLE_TRACE_LINK /, { timeoutMs: 15_000 });
    const link = app.stderr().split('\n').find((l) => l.includes('WAGGLE_TRACE_LINK '))!;
    expect(link).toMatch(/ https:\/\/ui\.eu1\.honeycomb\.io\/acme-team\/environments\/prod-env\/trace\?trace_id=[0-9a-f]{32}$/);
    expect(app.stderr()).not.toContain(key);
  });
});

describe('NodeSDK compatibility', () => {
  it.skipIf(!pgUp)('nodeSdkConfiguration() spread into new NodeSDK traces the app with Waggle rollups', async () => {
    const app = await launch(['nodesdk.mjs'], env({ OTEL_BSP_SCHEDULE_DELAY: '100' }));
    expect((await fetch(app.url)).status).toBe(200);
    const spans = await receiver.waitForSpans((all) => all.some((s) => s.serviceName === 'nodesdk-app' && s.kind === 2));
    const server = spans.find((s) => s.serviceName === 'nodesdk-app' && s.kind === 2)!;
    expect(server.attributes['rollup.db.count']).toBe(2);
    expect(spans.filter((s) => s.serviceName === 'nodesdk-app' && s.attributes['db.query.text'] !== undefined)).toHaveLength(2);
  });
});

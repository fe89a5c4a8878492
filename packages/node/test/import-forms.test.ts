// Must show 1: every import form traces express and plain node:http apps end to end, as child processes.
import { SpanKind } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable, startReceiver, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { startApp, type App } from './helpers/child.js';

let receiver: OtlpReceiver;
let downstream: App;
const apps: App[] = [];
const pgUp = await serviceAvailable('postgres');

// Exported with the default protocol (http/protobuf) to @waggle/testing's receiver.
const baseEnv = () => ({
  OTEL_BSP_SCHEDULE_DELAY: '100',
  WAGGLE_PROPAGATE_TRACE_FIELDS: 'tenant.id',
});

beforeAll(async () => {
  receiver = await startReceiver();
  // An instrumented downstream service, so every test also proves traceparent crosses the hop.
  downstream = await startApp(['--import', '@waggle/node/register', 'express.mjs'], { ...baseEnv(), OTEL_SERVICE_NAME: 'downstream' }, receiver);
});
afterEach(() => {
  for (const app of apps.splice(0)) app.stop();
});
afterAll(async () => {
  downstream?.stop();
  await receiver?.close();
});

const forms = [
  { form: '--import', app: 'express', args: ['--import', '@waggle/node/register', 'express.mjs'] },
  { form: '--require', app: 'express', args: ['--require', '@waggle/node/register', 'express.cjs'] },
  { form: 'in-file import', app: 'express', args: ['express-infile.mjs'] },
  { form: '--import', app: 'node:http', args: ['--import', '@waggle/node/register', 'http.mjs'] },
  { form: '--require', app: 'node:http', args: ['--require', '@waggle/node/register', 'http.cjs'] },
  { form: 'in-file import', app: 'node:http', args: ['http-infile.mjs'] },
  { form: '--import', app: 'fastify', args: ['--import', '@waggle/node/register', 'fastify.mjs'] },
];

describe.skipIf(!pgUp)('one import traces the app', () => {
  it.each(forms)('$app app under $form: SERVER span with http.route, pg and fetch CLIENT children, one trace across services', async ({ form, app: kind, args }) => {
    const service = `${kind}-${form}`.replace(/[^a-z-]/gi, '');
    const app = await startApp(args, { ...baseEnv(), OTEL_SERVICE_NAME: service, DOWNSTREAM_URL: downstream.url }, receiver);
    apps.push(app);
    const response = await fetch(`${app.url}/users/42`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { id: number; downstream: { traceparent: string; baggage: string } };
    expect(body.id).toBe(42);

    const ofService = (spans: readonly ReceivedSpan[]) => spans.filter((s) => s.serviceName === service);
    // The SERVER span ends last; the fetch CLIENT span may arrive in the same or the previous batch.
    await receiver.waitForSpans((spans) => ofService(spans).some((s) => s.kind === SpanKind.SERVER + 1 && s.attributes['url.path'] === '/users/42'));
    const mine = ofService(receiver.spans);
    // OTLP JSON kinds are the API's SpanKind + 1 (SPAN_KIND_SERVER = 2, SPAN_KIND_CLIENT = 3).
    const server = mine.find((s) => s.kind === SpanKind.SERVER + 1)!;
    expect(server.attributes['http.route']).toBe('/users/:id');
    expect(server.attributes['http.request.method']).toBe('GET');
    expect(server.attributes['http.response.status_code']).toBe(200);

    const clients = mine.filter((s) => s.kind === SpanKind.CLIENT + 1 && s.traceId === server.traceId);
    const query = clients.find((s) => s.attributes['db.system.name'] === 'postgresql' && s.attributes['db.query.text'] === 'SELECT $1::int AS id');
    const outgoing = clients.find((s) => s.attributes['http.request.method'] === 'GET' && String(s.attributes['url.full']).endsWith('/hello'));
    expect(query, 'pg query CLIENT span').toBeDefined();
    expect(outgoing, 'fetch CLIENT span').toBeDefined();

    // Rollups on the local root: one query, one outgoing HTTP call.
    expect(server.attributes['rollup.db.count']).toBe(1);
    expect(server.attributes['rollup.http.count']).toBe(1);
    expect(server.attributes['rollup.http.duration_ms']).toBeGreaterThan(0);

    // traceparent reached the instrumented downstream, whose SERVER span joins the same trace under our CLIENT span.
    expect(body.downstream.traceparent).toContain(server.traceId);
    await receiver.waitForSpans((spans) => spans.some((s) => s.serviceName === 'downstream' && s.traceId === server.traceId));
    const remote = receiver.spans.find((s) => s.serviceName === 'downstream' && s.traceId === server.traceId && s.kind === SpanKind.SERVER + 1)!;
    expect(remote.parentSpanId).toBe(outgoing!.spanId);
    // Trace fields: set on this service, copied onto its later spans and carried downstream through baggage.
    expect(outgoing!.attributes['tenant.id']).toBe('acme');
    expect(body.downstream.baggage).toContain('tenant.id=acme');
    expect(remote.attributes['tenant.id']).toBe('acme');
  });
});

// http.route on express SERVER spans: the route template Waggle records at registration, under both import forms,
// with framework spans off (Waggle's own route capture) and on (the upstream express instrumentation).
import { SpanKind } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { startApp, type App } from './helpers/child.js';

let receiver: OtlpReceiver;
const apps: App[] = [];

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  for (const app of apps) app.stop();
  await receiver?.close();
});

// [method, path, status, expected http.route (undefined: none)]
const cases: Array<[string, string, number, string | undefined]> = [
  ['GET', '/users/7', 200, '/users/:id'],
  ['GET', '/chained/3', 200, '/chained/:id'],
  ['POST', '/chained/3', 200, '/chained/:id'],
  ['GET', '/regex/5', 200, '/^\\/regex\\/(\\d+)$/'],
  ['GET', '/array/5', 200, '/list/:id,/array/:id'],
  ['GET', '/api', 200, '/api'],
  ['GET', '/api/items/3', 200, '/api/items/:id'],
  ['GET', '/api/v1/things/9', 200, '/api/v1/things/:thing'],
  ['GET', '/org/42/items/7', 200, '/org/:orgId/items/:id'],
  ['GET', '/v2/s/1', 200, '/v2/s/:id'],
  ['GET', '/v3/s/1', 200, '/v3/s/:id'],
  ['GET', '/t/other/b/1', 200, '/t/:tenant/b/:id'],
  ['GET', '/t/fixed/b/1', 200, undefined],
  ['GET', '/wrapped/h/1', 200, undefined],
  ['GET', '/subapp/sub/4', 200, '/subapp/sub/:id'],
  ['GET', '/boom/1', 500, '/boom/:id'],
  ['GET', '/api/fail/1', 500, '/api/fail/:id'],
  ['GET', '/maybe/1', 200, '/maybe/:id'],
  ['GET', '/maybe/2', 404, undefined],
  ['GET', '/nope', 404, undefined],
  ['GET', '/api/nope', 404, undefined],
];

async function routesOf(args: string[], service: string, env: Record<string, string> = {}): Promise<ReceivedSpan[]> {
  const app = await startApp(args, { OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: service, ...env }, receiver);
  apps.push(app);
  for (const [method, path, status] of cases) {
    const response = await fetch(`${app.url}${path}`, { method });
    expect(response.status, `${method} ${path}`).toBe(status);
  }
  const servers = (spans: readonly ReceivedSpan[]) => spans.filter((s) => s.serviceName === service && s.kind === SpanKind.SERVER + 1);
  await receiver.waitForSpans((spans) => servers(spans).length >= cases.length);
  return servers(receiver.spans);
}

const forms = [
  { form: '--import', args: ['--import', '@waggle/node/register', 'express-routes.mjs'] },
  { form: '--require', args: ['--require', '@waggle/node/register', 'express-routes.cjs'] },
];

describe('http.route on express SERVER spans', () => {
  it.each(forms)('$form: the template through routers, mounts, params, app.route, regex and arrays', async ({ form, args }) => {
    const spans = await routesOf(args, `routes${form}`);
    for (const [method, path, , route] of cases) {
      const span = spans.find((s) => s.attributes['url.path'] === path && s.attributes['http.request.method'] === method);
      expect(span, `${method} ${path}`).toBeDefined();
      expect(span!.attributes['http.route'], `http.route of ${method} ${path}`).toBe(route);
      expect(span!.name, `name of ${method} ${path}`).toBe(route === undefined ? method : `${method} ${route}`);
    }
  });
});

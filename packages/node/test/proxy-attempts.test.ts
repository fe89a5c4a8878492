// The contract with @waggle/instrumentation-proxy (src/proxy-attempts.ts): an outgoing request that the owner in the
// context claims is a proxy's upstream attempt, whose CLIENT span the proxy package makes, so neither Waggle's http
// instrumentation nor the undici instrumentation (as the table configures it) makes one. In-process, real sockets.
import { context, createContextKey, SpanKind, type Context } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { INSTRUMENTATION_TABLE } from '../src/instrumentations.js';
import { installTracing, uninstallTracing } from './helpers/in-process.js';

/** The key @waggle/instrumentation-proxy sets (createContextKey is Symbol.for: the same symbol in both packages). */
const OWNER_KEY = createContextKey('waggle.upstream-attempt-owner');

const exporter = new InMemorySpanExporter();
const instrumentations: Instrumentation[] = [];
let server: Server;
let port = 0;
const traceparents: (string | undefined)[] = [];

beforeAll(async () => {
  const { provider, http } = installTracing(exporter);
  // The undici instrumentation exactly as @waggle/node's table creates it.
  const entry = INSTRUMENTATION_TABLE.find((e) => e.name === 'undici')!;
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  const undici = new UndiciInstrumentation(entry.config?.({}));
  undici.setTracerProvider(provider);
  instrumentations.push(http, undici);
  server = createServer((req, res) => {
    traceparents.push(req.headers.traceparent as string | undefined);
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const i of instrumentations) i.disable();
  await new Promise((r) => server.close(r));
  uninstallTracing();
});
beforeEach(() => {
  exporter.reset();
  traceparents.length = 0;
});

function httpGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      res.resume();
      res.on('end', () => resolve());
    }).on('error', reject);
  });
}

/** A context whose owner claims the requests `owns` accepts (what the proxy package puts around a proxy call). */
function withOwner(owns: (request: object) => boolean): Context {
  return context.active().setValue(OWNER_KEY, { owns });
}

const clientSpans = () => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);

describe.each([
  ['node:http', (url: string) => httpGet(url)],
  ['fetch (undici)', async (url: string) => void (await (await fetch(url)).text())],
])('a request made with %s', (_client, send) => {
  it('owned by the upstream-attempt owner: no CLIENT span and no traceparent from the instrumentations', async () => {
    const seen: object[] = [];
    await context.with(withOwner((request) => (seen.push(request), true)), () => send(`http://127.0.0.1:${port}/`));
    expect(seen.length).toBeGreaterThan(0);
    expect(clientSpans()).toHaveLength(0);
    expect(traceparents).toEqual([undefined]);
  });

  it('not owned (another upstream, or an owner that throws): its CLIENT span and traceparent as usual', async () => {
    await context.with(withOwner(() => false), () => send(`http://127.0.0.1:${port}/a`));
    await context.with(
      withOwner(() => {
        throw new Error('broken owner');
      }),
      () => send(`http://127.0.0.1:${port}/b`),
    );
    await new Promise((r) => setTimeout(r, 50));
    const spans = clientSpans();
    expect(spans).toHaveLength(2);
    expect(traceparents.map((t) => t?.split('-')[2])).toEqual(spans.map((s) => s.spanContext().spanId));
  });
});

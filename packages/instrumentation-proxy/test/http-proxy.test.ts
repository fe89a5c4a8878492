import type http from 'node:http';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  attemptSpans,
  closedPort,
  closeServer,
  get,
  isProxyServerSpan,
  listen,
  load,
  parentSpanId,
  parseTraceparent,
  setupTracing,
  startUpstream,
  waitForSpans,
  type Upstream,
} from './helpers.js';

const { exporter, instrumentation } = setupTracing();
// Loaded after the instrumentations are registered, the way a user's app loads them.
const httpModule = load('node:http') as typeof http;
const httpProxy = load('http-proxy') as typeof import('http-proxy');

interface RetryingProxy {
  port: number;
  server: http.Server;
}

/**
 * The usual app-level retry around http-proxy: handle the upstream response ourselves and call
 * `proxy.web()` again (up to `maxAttempts`) on a 5xx or a proxy error, waiting `delayFor(...)`.
 */
async function startRetryingProxy(
  target: string,
  options: { maxAttempts: number; proxyTimeout?: number; delayFor?: (retryAfter: string | undefined) => number },
): Promise<RetryingProxy> {
  const proxy = httpProxy.createProxyServer({ target, selfHandleResponse: true, proxyTimeout: options.proxyTimeout, xfwd: true });
  const tries = new WeakMap<http.IncomingMessage, number>();
  const attempt = (req: http.IncomingMessage, res: http.ServerResponse) => {
    tries.set(req, (tries.get(req) ?? 0) + 1);
    proxy.web(req, res, {}, (err: Error) => {
      if ((tries.get(req) ?? 0) < options.maxAttempts) return attempt(req, res);
      if (!res.headersSent) res.writeHead(502);
      res.end(`proxy error ${(err as NodeJS.ErrnoException).code}`);
    });
  };
  proxy.on('proxyRes', (proxyRes, req, res) => {
    const retryAfter = proxyRes.headers['retry-after'] as string | undefined;
    if ((proxyRes.statusCode ?? 0) >= 500 && (tries.get(req) ?? 0) < options.maxAttempts) {
      proxyRes.resume();
      setTimeout(() => attempt(req, res), options.delayFor?.(retryAfter) ?? 0);
      return;
    }
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
    proxyRes.pipe(res);
  });
  const server = httpModule.createServer((req, res) => attempt(req, res));
  return { port: await listen(server), server };
}

describe('http-proxy', () => {
  let upstream: Upstream | undefined;
  let proxy: RetryingProxy | undefined;
  afterEach(async () => {
    await upstream?.close();
    if (proxy) await closeServer(proxy.server);
    upstream = undefined;
    proxy = undefined;
    exporter.reset();
  });

  it('app-level retries around proxy.web are separate CLIENT spans with resend_count, under the server span', async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i < 2 ? 502 : 200, { 'content-type': 'text/plain' });
      res.end(i < 2 ? 'bad gateway' : 'hello');
    });
    proxy = await startRetryingProxy(upstream.url, { maxAttempts: 5 });

    const response = await get(`http://127.0.0.1:${proxy.port}/items?id=1`);
    expect(response).toEqual({ status: 200, body: 'hello' });

    const [server] = await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1, 2]);
    expect(attempts.map((s) => s.attributes['http.response.status_code'])).toEqual([502, 502, 200]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['upstream_5xx', 'upstream_5xx', undefined]);
    expect(attempts.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(attempts.map((s) => s.attributes['waggle.retry.reason'])).toEqual([undefined, '502', '502']);
    expect(attempts[1]!.attributes['waggle.retry.delay_ms']).toBeTypeOf('number');
    for (const span of attempts) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.attributes['server.address']).toBe('127.0.0.1');
      expect(span.attributes['server.port']).toBe(upstream.port);
      expect(span.attributes['network.peer.address']).toBe('127.0.0.1');
      expect(span.attributes['network.peer.port']).toBe(upstream.port);
      expect(span.attributes['url.full']).toBe(`http://127.0.0.1:${upstream.port}/items?id=1`);
      expect(span.attributes['waggle.retry.library']).toBe('http-proxy');
      expect(parentSpanId(span)).toBe(server!.spanContext().spanId);
      expect(span.spanContext().traceId).toBe(server!.spanContext().traceId);
    }
    // http-proxy's xfwd appends to the incoming headers on every web() call: visible per attempt.
    expect(attempts.map((s) => s.attributes['http.request.header.x-forwarded-for'])).toEqual([
      ['127.0.0.1'],
      ['127.0.0.1,127.0.0.1'],
      ['127.0.0.1,127.0.0.1,127.0.0.1'],
    ]);
    // The upstream saw a traceparent naming each attempt span, not the http instrumentation's.
    expect(upstream.traceparents.map((t) => parseTraceparent(t)?.spanId)).toEqual(attempts.map((s) => s.spanContext().spanId));
    expect(upstream.traceparents.every((t) => parseTraceparent(t)?.traceId === server!.spanContext().traceId)).toBe(true);
    // No second CLIENT span per attempt from the http instrumentation.
    const clientSpans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(clientSpans).toHaveLength(3);

    expect(server!.attributes['proxy.upstream']).toBe(`127.0.0.1:${upstream.port}`);
    expect(server!.attributes['proxy.library']).toBe('http-proxy');
    expect(server!.attributes['proxy.attempts']).toBe(3);
    expect(server!.attributes['retry.amplification']).toBe(3);
    // One request retried twice is not a storm: fewer original requests than amplificationMinRequests.
    expect(server!.events.map((e) => e.name)).not.toContain('retry_storm');
  });

  it('a 503 with Retry-After records the wait and whether it was honoured', async () => {
    upstream = await startUpstream((i, _req, res) => {
      if (i === 0) {
        res.writeHead(503, { 'retry-after': '1' });
        res.end('busy');
      } else {
        res.end('ok');
      }
    });
    proxy = await startRetryingProxy(upstream.url, {
      maxAttempts: 3,
      delayFor: (retryAfter) => (retryAfter ? Number(retryAfter) * 1000 : 0),
    });
    expect((await get(`http://127.0.0.1:${proxy.port}/`)).status).toBe(200);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const [first, second] = attemptSpans(exporter);
    expect(first!.attributes['error.type']).toBe('upstream_5xx');
    expect(second!.attributes['http.request.resend_count']).toBe(1);
    expect(second!.attributes['waggle.retry.reason']).toBe('503');
    expect(second!.attributes['waggle.retry.retry_after_ms']).toBe(1000);
    expect(second!.attributes['waggle.retry.delay_ms']).toBeGreaterThanOrEqual(975);
    expect(second!.attributes['waggle.retry.retry_after_honored']).toBe(true);
  });

  it('a retry that ignores Retry-After is marked not honoured', async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i === 0 ? 503 : 200, i === 0 ? { 'retry-after': '5' } : {});
      res.end();
    });
    proxy = await startRetryingProxy(upstream.url, { maxAttempts: 3 });
    expect((await get(`http://127.0.0.1:${proxy.port}/`)).status).toBe(200);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const [, second] = attemptSpans(exporter);
    expect(second!.attributes['waggle.retry.retry_after_ms']).toBe(5000);
    expect(second!.attributes['waggle.retry.retry_after_honored']).toBe(false);
  });

  it('connection refused is classified connect_refused on every attempt, with no peer address', async () => {
    const port = await closedPort();
    proxy = await startRetryingProxy(`http://127.0.0.1:${port}`, { maxAttempts: 2 });
    const response = await get(`http://127.0.0.1:${proxy.port}/`);
    expect(response).toEqual({ status: 502, body: 'proxy error ECONNREFUSED' });
    const [server] = await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['connect_refused', 'connect_refused']);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('ECONNREFUSED');
    for (const span of attempts) {
      expect(span.attributes['server.port']).toBe(port);
      expect(span.attributes['network.peer.address']).toBeUndefined();
      expect(parentSpanId(span)).toBe(server!.spanContext().spanId);
    }
  });

  it('an upstream slower than proxyTimeout is classified response_timeout', async () => {
    const pending: http.ServerResponse[] = [];
    upstream = await startUpstream((_i, _req, res) => {
      pending.push(res); // never answers within the timeout
    });
    proxy = await startRetryingProxy(upstream.url, { maxAttempts: 2, proxyTimeout: 300 });
    const response = await get(`http://127.0.0.1:${proxy.port}/slow`);
    expect(response.status).toBe(502);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['response_timeout', 'response_timeout']);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('response_timeout');
    // It did connect: the peer is known.
    expect(attempts[0]!.attributes['network.peer.port']).toBe(upstream.port);
    for (const res of pending) res.destroy();
  });
});

describe('http-proxy and the app around it', () => {
  afterEach(() => exporter.reset());

  it("spans the app starts in http-proxy's proxyRes handler are recorded, under the server span", async () => {
    const upstream = await startUpstream((_i, _req, res) => res.end('ok'));
    const proxy = httpProxy.createProxyServer({ target: upstream.url });
    proxy.on('proxyRes', () => trace.getTracer('app').startSpan('inspect upstream response').end());
    const server = httpModule.createServer((req, res) => proxy.web(req, res));
    const port = await listen(server);
    try {
      expect(await get(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'ok' });
      const [proxyServer] = await waitForSpans(exporter, isProxyServerSpan, 1);
      const [appSpan] = await waitForSpans(exporter, (s) => s.name === 'inspect upstream response', 1);
      expect(appSpan!.spanContext().traceId).toBe(proxyServer!.spanContext().traceId);
      expect(parentSpanId(appSpan!)).toBe(proxyServer!.spanContext().spanId);
    } finally {
      await closeServer(server);
      await upstream.close();
    }
  });

  it('a request to another host from a proxy callback is no upstream attempt: it keeps its own CLIENT span', async () => {
    const upstream = await startUpstream((_i, _req, res) => res.end('ok'));
    const audit = await startUpstream((_i, _req, res) => res.end('logged'));
    const proxy = httpProxy.createProxyServer({ target: upstream.url });
    proxy.on('proxyRes', () => httpModule.get(audit.url, (res) => res.resume()));
    const server = httpModule.createServer((req, res) => proxy.web(req, res));
    const port = await listen(server);
    try {
      expect(await get(`http://127.0.0.1:${port}/`)).toEqual({ status: 200, body: 'ok' });
      const [auditClient] = await waitForSpans(exporter, (s) => s.kind === SpanKind.CLIENT && s.attributes['server.port'] === audit.port, 1);
      expect(auditClient!.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
      expect(attemptSpans(exporter).map((s) => s.attributes['server.port'])).toEqual([upstream.port]);
      expect(parseTraceparent(audit.traceparents[0])?.spanId).toBe(auditClient!.spanContext().spanId);
    } finally {
      await closeServer(server);
      await upstream.close();
      await audit.close();
    }
  });
});

describe('disabled instrumentation', () => {
  it('a disabled instrumentation records no attempt spans and the proxy still forwards', async () => {
    const upstream = await startUpstream((_i, _req, res) => res.end('ok'));
    const proxy = await startRetryingProxy(upstream.url, { maxAttempts: 1 });
    instrumentation.disable();
    try {
      expect(await get(`http://127.0.0.1:${proxy.port}/`)).toEqual({ status: 200, body: 'ok' });
      expect(attemptSpans(exporter)).toHaveLength(0);
    } finally {
      instrumentation.enable();
      await closeServer(proxy.server);
      await upstream.close();
      exporter.reset();
    }
  });
});

describe('http-proxy without the proxy in the path', () => {
  afterAll(() => exporter.reset());
  beforeAll(() => exporter.reset());
  it('plain outgoing http requests of the app get no attempt span', async () => {
    const upstream = await startUpstream((_i, _req, res) => res.end('ok'));
    await new Promise<void>((resolve, reject) => {
      httpModule.get(upstream.url, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
    await upstream.close();
    expect(attemptSpans(exporter)).toHaveLength(0);
  });
});

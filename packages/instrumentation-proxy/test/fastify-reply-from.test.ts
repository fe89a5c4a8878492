import http from 'node:http';
import { context, SpanKind } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  attemptSpans,
  closedPort,
  get,
  isProxyServerSpan,
  load,
  parentSpanId,
  parseTraceparent,
  setupTracing,
  startUpstream,
  waitForSpans,
  type Upstream,
} from './helpers.js';

const { exporter } = setupTracing();
// Loaded after the instrumentations are registered, the way a user's app loads them.
const Fastify = load('fastify') as typeof import('fastify');
const replyFrom = load('@fastify/reply-from') as typeof import('@fastify/reply-from');
const fastifyHttpProxy = load('@fastify/http-proxy') as typeof import('@fastify/http-proxy');

type App = ReturnType<typeof Fastify>;

async function startApp(register: (app: App) => void): Promise<{ app: App; url: string }> {
  const app = Fastify({ logger: false });
  register(app);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}

/** A reply-from proxy of `base` whose onResponse hook runs `hook` in the proxy call's context, then answers. */
function startHookedProxy(base: string, hook: (send: () => void) => void): Promise<{ app: App; url: string }> {
  return startApp((a) => {
    a.register(replyFrom, { base });
    a.get('/', (_req: FastifyRequest, reply: FastifyReply) =>
      reply.from('/', { onResponse: (_request, replyInHook, res) => hook(() => replyInHook.send(res.stream)) }),
    );
  });
}

describe('@fastify/reply-from', () => {
  let upstream: Upstream | undefined;
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    await upstream?.close();
    app = undefined;
    upstream = undefined;
    exporter.reset();
  });

  it('503 responses retried by reply-from are separate attempt spans with resend_count, under the server span', async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i < 2 ? 503 : 200);
      res.end(i < 2 ? 'busy' : 'done');
    });
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base });
      a.get('/orders/:id', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/orders/7', { retryDelay: ({ res, attempt }: { res?: { statusCode: number } | null; attempt: number }) => (res?.statusCode === 503 && attempt < 5 ? 5 : null) }));
    }).then((r) => ((appUrl = r.url), r)));

    expect(await get(`${appUrl}/orders/7`)).toEqual({ status: 200, body: 'done' });
    const [server] = await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1, 2]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['upstream_5xx', 'upstream_5xx', undefined]);
    expect(attempts.map((s) => s.attributes['waggle.retry.reason'])).toEqual([undefined, '503', '503']);
    for (const span of attempts) {
      expect(span.attributes['server.port']).toBe(upstream.port);
      expect(span.attributes['network.peer.address']).toBe('127.0.0.1');
      expect(span.attributes['network.peer.port']).toBe(upstream.port);
      expect(span.attributes['url.full']).toBe(`${upstream.url}/orders/7`);
      expect(span.attributes['waggle.retry.library']).toBe('@fastify/reply-from');
      expect(parentSpanId(span)).toBe(server!.spanContext().spanId);
    }
    expect(attempts[1]!.attributes['waggle.retry.delay_ms']).toBeGreaterThanOrEqual(4);
    expect(upstream.traceparents.map((t) => parseTraceparent(t)?.spanId)).toEqual(attempts.map((s) => s.spanContext().spanId));
    expect(server!.attributes['proxy.route']).toBe('/orders/:id');
    expect(server!.attributes['proxy.upstream']).toBe(`127.0.0.1:${upstream.port}`);
    expect(server!.attributes['proxy.attempts']).toBe(3);
  });

  it("reply-from's default 503 retry reads Retry-After as milliseconds, so a 1 s Retry-After is not honoured", async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i === 0 ? 503 : 200, i === 0 ? { 'retry-after': '1' } : {});
      res.end();
    });
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base });
      a.get('/', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/'));
    }).then((r) => ((appUrl = r.url), r)));
    expect((await get(`${appUrl}/`)).status).toBe(200);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const [, second] = attemptSpans(exporter);
    expect(second!.attributes['waggle.retry.reason']).toBe('503');
    expect(second!.attributes['waggle.retry.retry_after_ms']).toBe(1000);
    expect(second!.attributes['waggle.retry.delay_ms']).toBeLessThan(900);
    expect(second!.attributes['waggle.retry.retry_after_honored']).toBe(false);
  });

  it('socket resets retried through retriesCount are classified reset', async () => {
    upstream = await startUpstream((i, req, res) => {
      if (i < 2) req.socket.destroy();
      else res.end('recovered');
    });
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base });
      a.get('/', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/', { retriesCount: 3 }));
    }).then((r) => ((appUrl = r.url), r)));
    expect(await get(`${appUrl}/`)).toEqual({ status: 200, body: 'recovered' });
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1, 2]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['reset', 'reset', undefined]);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('UND_ERR_SOCKET');
  });

  it('connection refused is one connect_refused attempt (reply-from does not retry it)', async () => {
    const port = await closedPort();
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base: `http://127.0.0.1:${port}` });
      a.get('/', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/', { retriesCount: 3 }));
    }).then((r) => ((appUrl = r.url), r)));
    expect((await get(`${appUrl}/`)).status).toBe(500);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.attributes['error.type']).toBe('connect_refused');
    expect(attempts[0]!.attributes['server.port']).toBe(port);
    expect(attempts[0]!.attributes['network.peer.address']).toBeUndefined();
  });

  it('an upstream slower than the timeout is classified response_timeout', async () => {
    const pending: import('node:http').ServerResponse[] = [];
    upstream = await startUpstream((_i, _req, res) => pending.push(res));
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base });
      a.get('/', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/', { timeout: 300 }));
    }).then((r) => ((appUrl = r.url), r)));
    expect((await get(`${appUrl}/`)).status).toBe(504);
    await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.attributes['error.type']).toBe('response_timeout');
    expect(attempts[0]!.attributes['network.peer.port']).toBe(upstream.port);
    for (const res of pending) res.destroy();
  });

  it('over node:http (the `http` option) retried 503s are attempt spans with resend_count too', async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i < 1 ? 503 : 200);
      res.end(i < 1 ? 'busy' : 'done');
    });
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(replyFrom, { base, http: {} });
      a.get('/', (_req: FastifyRequest, reply: FastifyReply) =>
        reply.from('/', { retryDelay: ({ res, attempt }: { res?: { statusCode: number } | null; attempt: number }) => (res?.statusCode === 503 && attempt < 3 ? 5 : null) }),
      );
    }).then((r) => ((appUrl = r.url), r)));
    expect(await get(`${appUrl}/`)).toEqual({ status: 200, body: 'done' });
    const [server] = await waitForSpans(exporter, isProxyServerSpan, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['upstream_5xx', undefined]);
    expect(attempts.map((s) => s.attributes['server.port'])).toEqual([upstream.port, upstream.port]);
    expect(attempts.every((s) => parentSpanId(s) === server!.spanContext().spanId)).toBe(true);
    expect(upstream.traceparents.map((t) => parseTraceparent(t)?.spanId)).toEqual(attempts.map((s) => s.spanContext().spanId));
  });

  it("a request the app makes from reply-from's onResponse hook is not counted as an upstream attempt", async () => {
    upstream = await startUpstream((_i, _req, res) => res.end('main'));
    const audit = await startUpstream((_i, _req, res) => res.end('logged'));
    ({ app, url: appUrl } = await startHookedProxy(upstream.url, (send) => {
      // Runs inside the proxy call's context: an unrelated call to another service.
      void fetch(audit.url)
        .then((r) => r.text())
        .then(send);
    }));
    try {
      expect(await get(`${appUrl}/`)).toEqual({ status: 200, body: 'main' });
      await waitForSpans(exporter, isProxyServerSpan, 1);
      const attempts = attemptSpans(exporter);
      expect(attempts).toHaveLength(1);
      expect(attempts[0]!.attributes['server.port']).toBe(upstream.port);
      expect(audit.traceparents).toHaveLength(1);
    } finally {
      await audit.close();
    }
  });

  it('a request sent with tracing suppressed inside the proxy call (an exporter\'s own POST) is not an attempt', async () => {
    upstream = await startUpstream((_i, _req, res) => res.end('main'));
    const collector = await startUpstream((_i, _req, res) => res.end('{}'));
    ({ app, url: appUrl } = await startHookedProxy(upstream.url, (send) => {
      // What an exporter does when its batch timer was armed inside this request: send with tracing suppressed.
      context.with(suppressTracing(context.active()), () => {
        const post = http.request(`${collector.url}/v1/traces`, { method: 'POST' }, (answer) => {
          answer.resume();
          answer.on('end', send);
        });
        post.end('{}');
      });
    }));
    try {
      expect(await get(`${appUrl}/`)).toEqual({ status: 200, body: 'main' });
      await waitForSpans(exporter, isProxyServerSpan, 1);
      const attempts = attemptSpans(exporter);
      expect(attempts.map((s) => s.attributes['server.port'])).toEqual([upstream.port]);
      expect(collector.traceparents).toEqual([undefined]);
    } finally {
      await collector.close();
    }
  });

  it("@fastify/http-proxy forwards through reply-from: one attempt span whose traceparent replaces the client's", async () => {
    upstream = await startUpstream((_i, _req, res) => res.end('proxied'));
    const base = upstream.url;
    ({ app } = await startApp((a) => {
      a.register(fastifyHttpProxy, { upstream: base, prefix: '/api' });
    }).then((r) => ((appUrl = r.url), r)));
    const clientTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpanId = '00f067aa0ba902b7';
    const response = await fetch(`${appUrl}/api/x`, { headers: { traceparent: `00-${clientTraceId}-${clientSpanId}-01` } });
    expect(await response.text()).toBe('proxied');
    const [server] = await waitForSpans(exporter, (s) => s.kind === SpanKind.SERVER && s.parentSpanContext?.spanId === clientSpanId, 1);
    const attempts = attemptSpans(exporter);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]!.attributes['http.request.resend_count']).toBe(0);
    expect(parentSpanId(attempts[0]!)).toBe(server!.spanContext().spanId);
    // Exactly one traceparent reached the upstream (two would arrive joined as "a, b"): the
    // client's header, copied by the proxy, was replaced by the attempt's.
    const received = parseTraceparent(upstream.headers[0]!.traceparent as string);
    expect(received).toEqual({ traceId: clientTraceId, spanId: attempts[0]!.spanContext().spanId });
    expect(server!.attributes['proxy.library']).toBe('@fastify/reply-from');
  });
});

let appUrl = '';

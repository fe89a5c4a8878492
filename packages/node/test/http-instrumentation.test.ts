// The diagnostics_channel HTTP instrumentation, in-process with a real SDK and real sockets.
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createServer, get, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { WaggleContextManager } from '../src/context-manager.js';
import type { HttpChannelInstrumentation } from '../src/http-instrumentation.js';
import { installTracing, uninstallTracing } from './helpers/in-process.js';

const exporter = new InMemorySpanExporter();
let instrumentation: HttpChannelInstrumentation;
let server: Server;
let base = '';
let seenTraceparent: string | undefined;

beforeAll(async () => {
  instrumentation = installTracing(exporter).http;

  server = createServer((req, res) => {
    seenTraceparent = req.headers.traceparent as string | undefined;
    // A span started in the handler must be a child of the SERVER span.
    trace.getTracer('app').startSpan('handler work').end();
    if (req.url?.startsWith('/fail')) res.statusCode = 503;
    if (req.url === '/hang') {
      res.write('partial');
      setTimeout(() => res.destroy(), 50);
      return;
    }
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  instrumentation.disable();
  await new Promise((r) => server.close(r));
  uninstallTracing();
});
beforeEach(() => exporter.reset());

function httpGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    }).on('error', reject);
  });
}
type Finished = ReturnType<InMemorySpanExporter['getFinishedSpans']>;
const waitFor = async (done: (spans: Finished) => boolean): Promise<Finished> => {
  for (let i = 0; i < 150 && !done(exporter.getFinishedSpans()); i++) await new Promise((r) => setTimeout(r, 20));
  return exporter.getFinishedSpans();
};
const has = (...kinds: SpanKind[]) => (spans: Finished) => kinds.every((k) => spans.some((s) => s.kind === k));

describe('HTTP over diagnostics channels', () => {
  it('an outgoing http.get and the incoming request form one trace with stable-semconv attributes', async () => {
    expect(await httpGet(`${base}/users/7?verbose=1`)).toBe(200);
    const spans = await waitFor(has(SpanKind.CLIENT, SpanKind.SERVER));
    const client = spans.find((s) => s.kind === SpanKind.CLIENT)!;
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
    const work = spans.find((s) => s.name === 'handler work')!;

    expect(client.name).toBe('GET');
    expect(client.attributes).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'url.full': `${base}/users/7?verbose=1`,
      'http.response.status_code': 200,
    });
    expect(seenTraceparent).toBe(`00-${client.spanContext().traceId}-${client.spanContext().spanId}-01`);
    expect(serverSpan.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    expect(serverSpan.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/users/7',
      'url.query': 'verbose=1',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'client.address': '127.0.0.1',
      'http.response.status_code': 200,
    });
    expect(work.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
  });

  it('a 5xx response marks both spans as errors with error.type = status code', async () => {
    expect(await httpGet(`${base}/fail`)).toBe(503);
    const spans = await waitFor(has(SpanKind.CLIENT, SpanKind.SERVER));
    for (const kind of [SpanKind.SERVER, SpanKind.CLIENT]) {
      const span = spans.find((s) => s.kind === kind)!;
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes['error.type']).toBe('503');
    }
  });

  it('a connection closed before the response finished still ends the SERVER span, as aborted', async () => {
    await httpGet(`${base}/hang`).catch(() => undefined);
    const spans = await waitFor(has(SpanKind.SERVER));
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER)!;
    expect(serverSpan.attributes['error.type']).toBe('aborted');
  });

  it('a refused connection ends the CLIENT span with the error code', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    exporter.reset();
    await expect(httpGet(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    const client = (await waitFor(has(SpanKind.CLIENT))).find((s) => s.kind === SpanKind.CLIENT);
    expect(client!.attributes['error.type']).toBe('ECONNREFUSED');
    expect(client!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('disable() unsubscribes: no spans afterwards', async () => {
    instrumentation.disable();
    try {
      await httpGet(`${base}/x`);
      await new Promise((r) => setTimeout(r, 100));
      expect(exporter.getFinishedSpans().filter((s) => s.kind !== SpanKind.INTERNAL)).toEqual([]);
    } finally {
      instrumentation.enable();
    }
  });
});

/** What a callback saw as the active span: its name, or 'none'. */
const activeName = () => (trace.getActiveSpan() as unknown as { name?: string } | undefined)?.name ?? 'none';

describe('contexts around a keep-alive connection', () => {
  it('the keep-alive timer armed after a response runs outside the request, while the app\'s finish and close listeners run inside it', async () => {
    const seen: Record<string, string> = {};
    const keepAlive = createServer((req, res) => {
      res.on('finish', () => (seen.finish = activeName()));
      res.on('close', () => (seen.close = activeName()));
      // Node emits 'timeout' on the socket from the keep-alive timer when the idle connection expires.
      req.socket.once('timeout', () => (seen.idleTimeout = activeName()));
      res.end('ok');
    });
    keepAlive.keepAliveTimeout = 50;
    keepAlive.keepAliveTimeoutBuffer = 0;
    await new Promise<void>((r) => keepAlive.listen(0, '127.0.0.1', r));
    // A raw client that sends one request and keeps the connection open, as an idle keep-alive client does.
    const client = connect((keepAlive.address() as AddressInfo).port, '127.0.0.1');
    try {
      client.write('GET /kept HTTP/1.1\r\nHost: test\r\n\r\n');
      for (let i = 0; i < 100 && seen.idleTimeout === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual({ finish: 'GET', close: 'GET', idleTimeout: 'none' });
    } finally {
      client.destroy();
      await new Promise((r) => keepAlive.close(r));
    }
  });

  it('a timeout the app sets on the socket during the request keeps the request\'s context', async () => {
    let seen: string | undefined;
    const slow = createServer((req, res) => {
      res.setTimeout(20, () => {
        seen = activeName();
        res.end('late');
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      expect(await httpGet(`http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`)).toBe(200);
      expect(seen).toBe('GET');
    } finally {
      await new Promise((r) => slow.close(r));
    }
  });
});

/** Sends the head of a POST, then its body in a later packet, as fetch and browsers do; resolves with the response. */
function postInTwoPackets(port: number, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = connect(port, '127.0.0.1');
    let answer = '';
    client.on('data', (chunk) => (answer += chunk.toString()));
    client.on('end', () => resolve(answer));
    client.on('error', reject);
    client.write(`POST /body HTTP/1.1\r\nHost: test\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
    setTimeout(() => client.write(body), 30);
  });
}

describe('the request\'s context in its stream events', () => {
  it('a body read with data/end callbacks (raw-body before 2.5, body-parser 1.19) calls the app back inside the request', async () => {
    const seen: Record<string, string> = {};
    const bodyServer = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
        seen.data = activeName();
      });
      req.on('end', () => {
        seen.end = activeName();
        trace.getTracer('app').startSpan('after body').end();
        res.end(body);
      });
    });
    await new Promise<void>((r) => bodyServer.listen(0, '127.0.0.1', r));
    try {
      const answer = await postInTwoPackets((bodyServer.address() as AddressInfo).port, '{"a":1}');
      expect(answer).toMatch(/\{"a":1\}$/);
      expect(seen).toEqual({ data: 'POST', end: 'POST' });
      const spans = await waitFor(has(SpanKind.SERVER, SpanKind.INTERNAL));
      const request = spans.find((s) => s.kind === SpanKind.SERVER)!;
      const after = spans.find((s) => s.name === 'after body')!;
      expect(after.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    } finally {
      await new Promise((r) => bodyServer.close(r));
    }
  });

  it('an event nobody listens to is emitted without entering the request\'s context; one with a listener still enters it', async () => {
    // Without a context manager's applyIn, the instrumentation enters a context through context.with(ctx, Reflect.apply,
    // undefined, emit, emitter, arguments), which reaches the global context manager's with().
    const entered: string[] = [];
    const original = WaggleContextManager.prototype.with;
    const withSpy = vi.spyOn(WaggleContextManager.prototype, 'with').mockImplementation(function (this: WaggleContextManager, ...args: unknown[]) {
      if (args[1] === Reflect.apply) entered.push(String((args[5] as ArrayLike<unknown>)[0]));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original);
    // The body arrives in its own packet, from the socket's callback (outside the request): 'data' has no listener
    // (the stream flows after resume()), 'end' has one.
    const bodyServer = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => bodyServer.listen(0, '127.0.0.1', r));
    try {
      await postInTwoPackets((bodyServer.address() as AddressInfo).port, '{"a":1}');
      expect(entered).toContain('end');
      expect(entered).not.toContain('data');
    } finally {
      withSpy.mockRestore();
      await new Promise((r) => bodyServer.close(r));
    }
  });

  it('a response\'s close on a client abort runs inside the request, and so does an event emitted inside a child span (as stock OpenTelemetry\'s bound emitters do)', async () => {
    const seen: Record<string, string> = {};
    let closed: () => void;
    const wasClosed = new Promise<void>((r) => (closed = r));
    const abortServer = createServer((req, res) => {
      res.on('close', () => {
        seen.close = activeName();
        closed();
      });
      const child = trace.getTracer('app').startSpan('child');
      context.with(trace.setSpan(context.active(), child), () => {
        req.on('custom', () => (seen.custom = activeName()));
        req.emit('custom');
      });
      child.end();
      res.write('partial');
    });
    await new Promise<void>((r) => abortServer.listen(0, '127.0.0.1', r));
    const client = connect((abortServer.address() as AddressInfo).port, '127.0.0.1');
    try {
      client.write('GET /abort HTTP/1.1\r\nHost: test\r\n\r\n');
      client.once('data', () => client.destroy());
      await wasClosed;
      expect(seen).toEqual({ custom: 'GET', close: 'GET' });
    } finally {
      client.destroy();
      await new Promise((r) => abortServer.close(r));
    }
  });
});

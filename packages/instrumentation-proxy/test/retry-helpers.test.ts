import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { attemptSpans, closedPort, load, parentSpanId, parseTraceparent, setupTracing, SCOPE, startUpstream, type Upstream } from './helpers.js';

// Loaded after the instrumentations are registered. p-retry 9 is ESM only: here it is loaded
// with require() (require of ESM); the `import` path through the loader hook runs in a child
// process in esm-loading.test.ts, because vitest's own module runner bypasses Node's loader hooks.
const { exporter, provider } = setupTracing();
const tracer = provider.getTracer('test');

const asyncRetry = load('async-retry') as (fn: (bail: (e: Error) => void, attempt: number) => Promise<unknown>, opts?: object) => Promise<unknown>;
const undici = load('undici') as typeof import('undici');
const { default: pRetry, makeRetriable } = load('p-retry') as typeof import('p-retry');

const helperSpans = (library: string): ReadableSpan[] =>
  exporter
    .getFinishedSpans()
    .filter((s) => s.instrumentationScope.name === SCOPE && s.attributes['waggle.retry.library'] === library)
    .toSorted((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);

class FlakyError extends Error {
  code = 'EFLAKY';
}

afterEach(() => exporter.reset());

describe('p-retry', () => {
  it('each attempt is an INTERNAL span under the caller with attempt number, delay and reason', async () => {
    let calls = 0;
    const result = await tracer.startActiveSpan('caller', async (caller) => {
      const value = await pRetry(
        async (attemptNumber) => {
          calls++;
          // The attempt span is active inside the attempt.
          expect(trace.getActiveSpan()?.spanContext().spanId).not.toBe(caller.spanContext().spanId);
          if (attemptNumber < 3) throw new FlakyError('not yet');
          return 'ok';
        },
        { retries: 4, minTimeout: 20, factor: 1 },
      );
      caller.end();
      return { value, callerId: caller.spanContext().spanId };
    });
    expect(result.value).toBe('ok');
    expect(calls).toBe(3);
    const spans = helperSpans('p-retry');
    expect(spans.map((s) => s.attributes['waggle.retry.attempt'])).toEqual([1, 2, 3]);
    expect(spans.map((s) => s.kind)).toEqual([SpanKind.INTERNAL, SpanKind.INTERNAL, SpanKind.INTERNAL]);
    expect(spans.map((s) => s.attributes['error.type'])).toEqual(['EFLAKY', 'EFLAKY', undefined]);
    expect(spans.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(spans.map((s) => s.attributes['waggle.retry.reason'])).toEqual([undefined, 'EFLAKY', 'EFLAKY']);
    expect(spans[1]!.attributes['waggle.retry.delay_ms']).toBeGreaterThanOrEqual(15);
    for (const span of spans) expect(parentSpanId(span)).toBe(result.callerId);
  });

  it('makeRetriable functions get attempt spans too', async () => {
    let calls = 0;
    const flaky = makeRetriable(async () => {
      if (++calls === 1) throw new FlakyError('first');
      return calls;
    }, { retries: 2, minTimeout: 1 });
    expect(await flaky()).toBe(2);
    expect(helperSpans('p-retry').map((s) => s.attributes['waggle.retry.attempt'])).toEqual([1, 2]);
  });
});

describe('async-retry (CommonJS)', () => {
  it('each attempt is a span; a bail ends the sequence with an error span', async () => {
    let calls = 0;
    await expect(
      tracer.startActiveSpan('caller', async (caller) => {
        try {
          return await asyncRetry(
            async (bail, attempt) => {
              calls++;
              if (attempt === 2) {
                bail(new Error('give up'));
                return undefined;
              }
              throw new FlakyError('retry me');
            },
            { retries: 3, minTimeout: 10, randomize: false },
          );
        } finally {
          caller.end();
        }
      }),
    ).rejects.toThrow('give up');
    const spans = helperSpans('async-retry');
    expect(spans.map((s) => s.attributes['waggle.retry.attempt'])).toEqual([1, 2]);
    expect(spans[0]!.attributes['error.type']).toBe('EFLAKY');
    expect(spans[1]!.attributes['waggle.retry.reason']).toBe('EFLAKY');
    expect(spans[1]!.attributes['waggle.retry.delay_ms']).toBeGreaterThanOrEqual(5);
    expect(calls).toBe(2);
  });
});

/** Answers 503 with Retry-After: 1 for the first `failures` requests, then 200. */
async function flakyUpstream(failures: number): Promise<Upstream> {
  return startUpstream((i, _req, res) => {
    res.writeHead(i < failures ? 503 : 200, i < failures ? { 'retry-after': '1' } : {});
    res.end(i < failures ? 'busy' : 'ok');
  });
}

describe('undici retries', () => {
  let upstream: Upstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  it('RetryAgent: every attempt is a CLIENT span with resend_count, traceparent and an honoured Retry-After', async () => {
    upstream = await flakyUpstream(2);
    const agent = new undici.RetryAgent(new undici.Agent(), { maxRetries: 3, minTimeout: 10, statusCodes: [503], methods: ['GET'] });
    const callerId = await tracer.startActiveSpan('caller', async (caller) => {
      const response = await undici.request(`${upstream!.url}/stock`, { dispatcher: agent });
      expect(response.statusCode).toBe(200);
      await response.body.text();
      caller.end();
      return caller.spanContext().spanId;
    });
    await agent.close();
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1, 2]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['upstream_5xx', 'upstream_5xx', undefined]);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('503');
    // undici honours Retry-After (1 s) for 503.
    expect(attempts[1]!.attributes['waggle.retry.retry_after_honored']).toBe(true);
    for (const span of attempts) {
      expect(span.attributes['waggle.retry.library']).toBe('undici');
      expect(span.attributes['server.port']).toBe(upstream.port);
      expect(parentSpanId(span)).toBe(callerId);
    }
    expect(upstream.traceparents.map((t) => parseTraceparent(t)?.spanId)).toEqual(attempts.map((s) => s.spanContext().spanId));
  });

  it('RetryAgent: refused connections are retried attempts classified connect_refused', async () => {
    const port = await closedPort();
    const agent = new undici.RetryAgent(new undici.Agent(), { maxRetries: 2, minTimeout: 10, timeoutFactor: 1 });
    await expect(undici.request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await agent.close();
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1, 2]);
    expect(attempts.map((s) => s.attributes['error.type'])).toEqual(['connect_refused', 'connect_refused', 'connect_refused']);
    expect(attempts.map((s) => s.attributes['waggle.retry.reason'])).toEqual([undefined, 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(attempts.every((s) => s.attributes['network.peer.address'] === undefined)).toBe(true);
  });

  it('the retry interceptor: every attempt is a CLIENT span with resend_count', async () => {
    upstream = await startUpstream((i, _req, res) => {
      res.writeHead(i < 1 ? 503 : 200);
      res.end();
    });
    const dispatcher = new undici.Agent().compose(undici.interceptors.retry({ maxRetries: 2, minTimeout: 10, statusCodes: [503] }));
    const response = await undici.request(upstream.url, { dispatcher });
    await response.body.text();
    expect(response.statusCode).toBe(200);
    const attempts = attemptSpans(exporter);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1]);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('503');
  });

  it('a plain undici request without a retrying dispatcher gets no attempt span', async () => {
    upstream = await flakyUpstream(0);
    const response = await undici.request(upstream.url);
    await response.body.text();
    expect(attemptSpans(exporter)).toHaveLength(0);
  });
});

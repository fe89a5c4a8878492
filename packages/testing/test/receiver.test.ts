import { gzipSync } from 'node:zlib';
import { decodeRpcStatus, encodeTraceRequest } from '@waggle/otlp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startReceiver } from '../src/index.js';
import type { OtlpReceiver } from '../src/index.js';
import { exportWith, makeSpans } from './sdk.js';
import type { Transport } from './sdk.js';

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe('receiving spans from the upstream OTLP exporters', () => {
  for (const transport of ['proto', 'json'] as Transport[]) {
    for (const gzip of [false, true]) {
      it(`${transport}${gzip ? ' with gzip' : ''}: stores every span with resource, scope, kind name and duration`, async () => {
        const sent = await makeSpans();
        const result = await exportWith(transport, receiver.tracesUrl, sent, { gzip });
        expect(result.code).toBe(0);
        const spans = await receiver.waitForSpans(3);
        expect(spans.map((s) => s.name).toSorted()).toEqual(['GET /orders', 'SELECT orders', 'render']);
        const server = spans.find((s) => s.name === 'GET /orders')!;
        expect(server.kindName).toBe('server');
        expect(server.serviceName).toBe('svc-under-test');
        expect(server.resource['service.name']).toBe('svc-under-test');
        expect(server.scope).toMatchObject({ name: 'waggle-testing-test', version: '1.0.0' });
        expect(server.attributes['http.route']).toBe('/orders');
        expect(server.durationMs).toBeGreaterThanOrEqual(0);
        const sdkRoot = sent.find((s) => s.name === 'GET /orders')!;
        expect(server.spanId).toBe(sdkRoot.spanContext().spanId);
        expect(receiver.requestCount).toBe(1);
        expect(receiver.requests[0]).toMatchObject({ format: transport === 'proto' ? 'protobuf' : 'json', status: 200, spanCount: 3 });
        if (gzip) expect(receiver.requests[0]!.headers['content-encoding']).toBe('gzip');
      });
    }
  }
});

describe('rejecting bad requests', () => {
  it('answers 415 for a content type other than protobuf or JSON, and stores nothing', async () => {
    const res = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(res.status).toBe(415);
    expect(await res.text()).toMatch(/unsupported content type "text\/plain"; send application\/x-protobuf or application\/json/);
    expect(receiver.spans).toHaveLength(0);
    expect(receiver.requestCount).toBe(1);
  });

  it('answers 400 with a protobuf google.rpc.Status naming the problem for a malformed protobuf body', async () => {
    const res = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0x09, 0x01]) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    const status = decodeRpcStatus(new Uint8Array(await res.arrayBuffer()), 'protobuf');
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/length 9 of ExportTraceServiceRequest.resource_spans at offset 1 runs past the end/);
  });

  it('answers 400 with a JSON status for malformed JSON and for a corrupt gzip body', async () => {
    const bad = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans": [' });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toBe('application/json');
    expect(((await bad.json()) as { message: string }).message).toMatch(/malformed JSON body/);
    const corrupt = await fetch(receiver.tracesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync('{}').subarray(0, 8),
    });
    expect(corrupt.status).toBe(400);
    expect(((await corrupt.json()) as { message: string }).message).toMatch(/invalid gzip body/);
  });

  it('a wait that times out names the rejected requests and why they were rejected', async () => {
    await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0x80]) });
    await expect(receiver.waitForSpans(1, { timeoutMs: 100 })).rejects.toThrow(/received 0 span\(s\) in 1 request\(s\); rejected 1 request\(s\): 400: truncated varint at offset 1/);
  });

  it('accepts an empty request with 200 and an empty response message', async () => {
    const res = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array(0) });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers 404 for unknown paths and drops metrics and logs with 200, counting neither as trace requests', async () => {
    expect((await fetch(`${receiver.url}/v1/profiles`, { method: 'POST', body: '' })).status).toBe(404);
    expect((await fetch(`${receiver.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: 'x' })).status).toBe(200);
    expect((await fetch(`${receiver.url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    expect(receiver.requestCount).toBe(0);
    expect(receiver.spans).toHaveLength(0);
  });
});

describe('fault injection with respondWith', () => {
  it('a non-retryable status makes the exporter fail; removing the handler restores normal answers', async () => {
    const spans = await makeSpans();
    receiver.respondWith(() => ({ status: 400, body: 'rejected by test' }));
    const failed = await exportWith('proto', receiver.tracesUrl, spans);
    expect(failed.code).toBe(1);
    expect(receiver.spans).toHaveLength(0);
    receiver.respondWith(null);
    expect((await exportWith('proto', receiver.tracesUrl, spans)).code).toBe(0);
    expect(receiver.spans).toHaveLength(3);
    expect(receiver.requests.map((r) => r.status)).toEqual([400, 200]);
  });

  it('a 503 on the first request only: the exporter retries and the spans arrive from the second request', async () => {
    receiver.respondWith((req) => (req.index === 0 ? { status: 503 } : undefined));
    const result = await exportWith('json', receiver.tracesUrl, await makeSpans());
    expect(result.code).toBe(0);
    expect(receiver.requestCount).toBe(2);
    expect(receiver.spans).toHaveLength(3);
  });

  it('the handler sees the decompressed body, format and headers', async () => {
    const seen: Array<{ format: string | undefined; length: number; type: string | undefined }> = [];
    receiver.respondWith((req) => {
      seen.push({ format: req.format, length: req.body.length, type: req.headers['content-type'] as string });
      return undefined;
    });
    const body = encodeTraceRequest({ resourceSpans: [] }, 'json');
    await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(body) });
    expect(seen).toEqual([{ format: 'json', length: body.length, type: 'application/json' }]);
  });

  it("'hang' never answers: the exporter times out", async () => {
    receiver.respondWith(() => 'hang');
    const result = await exportWith('proto', receiver.tracesUrl, await makeSpans(), { timeoutMillis: 500 });
    expect(result.code).toBe(1);
    expect(receiver.requests[0]!.status).toBeUndefined();
  });

  it("'destroy' resets the connection", async () => {
    receiver.respondWith(() => 'destroy');
    await expect(fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).rejects.toThrow();
  });

  it('delayMs holds the answer back', async () => {
    receiver.respondWith(() => ({ status: 202, delayMs: 300 }));
    const started = performance.now();
    const res = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(202);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('waitForSpans', () => {
  it('waits by name and count and resolves with only the matching spans', async () => {
    const waiting = receiver.waitForSpans({ name: 'SELECT orders', count: 2 });
    await exportWith('proto', receiver.tracesUrl, await makeSpans('a'));
    await exportWith('proto', receiver.tracesUrl, await makeSpans('b'));
    const spans = await waiting;
    expect(spans.map((s) => `${s.serviceName}:${s.name}`)).toEqual(['a:SELECT orders', 'b:SELECT orders']);
  });

  it('waits for a predicate over all spans', async () => {
    const waiting = receiver.waitForSpans((all) => all.some((s) => s.kindName === 'client'));
    await exportWith('json', receiver.tracesUrl, await makeSpans());
    expect((await waiting).length).toBe(3);
  });

  it('rejects on timeout with the names of the spans that did arrive', async () => {
    await exportWith('proto', receiver.tracesUrl, await makeSpans());
    await expect(receiver.waitForSpans({ name: 'POST /missing' }, { timeoutMs: 200 })).rejects.toThrow(
      /timed out after 200 ms waiting for 1 span\(s\) named POST \/missing; received 3 span\(s\) in 1 request\(s\): .*GET \/orders \(server, svc-under-test\)/,
    );
  });

  it('clear() forgets earlier spans so the next wait only sees new ones', async () => {
    await exportWith('proto', receiver.tracesUrl, await makeSpans('old'));
    receiver.clear();
    expect(receiver.spans).toHaveLength(0);
    expect(receiver.requestCount).toBe(0);
    const waiting = receiver.waitForSpans(3);
    await exportWith('proto', receiver.tracesUrl, await makeSpans('new'));
    expect(new Set((await waiting).map((s) => s.serviceName))).toEqual(new Set(['new']));
  });

  it('close() rejects pending waits instead of leaving them hanging', async () => {
    const waiting = receiver.waitForSpans(1, { timeoutMs: 60_000 });
    await receiver.close();
    await expect(waiting).rejects.toThrow(/receiver closed/);
  });
});

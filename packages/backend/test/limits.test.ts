import { decodeExportTraceResponse, encodeTraceRequest, type AnyValue } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, TraceEntry } from '../src/index.js';
import { MAX_EVENT_FIELDS, MAX_VALUE_BYTES } from '../src/limits.js';
import { freshBackend, postJson } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

const fields = (n: number, prefix = 'k'): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));

async function postOtlp(url: string, body: Uint8Array | string, type: string) {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
}

async function trace(url: string, traceId: string): Promise<TraceEntry[]> {
  const res = await fetch(`${url}/api/traces/${traceId}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { spans: TraceEntry[] }).spans;
}

async function limitCounts(url: string): Promise<Record<string, number>> {
  return ((await (await fetch(`${url}/api/limits`)).json()) as { counts: Record<string, number> }).counts;
}

describe('ingest limits, as Honeycomb documents them', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('an Events API event over 2,000 fields gets 400 "Event has too many columns." and the others in the batch are kept', async () => {
    const res = await postJson(`${backend.url}/1/batch/wide`, [
      { data: fields(MAX_EVENT_FIELDS) },
      { data: fields(MAX_EVENT_FIELDS + 1, 'x') },
      { data: fields(5000, 'y') },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.map((s: { status: number }) => s.status)).toEqual([202, 400, 400]);
    expect(res.body[1].error).toMatch(/^Event has too many columns\./);
    const single = await postJson(`${backend.url}/1/events/wide`, fields(5000, 'z'));
    expect(single.status).toBe(400);
    expect(single.body.error).toMatch(/^Event has too many columns\./);
    const counts = await limitCounts(backend.url);
    expect(counts.events_rejected).toBeGreaterThanOrEqual(3);
  });

  it('Events API: a key over 255 characters, nesting over 32 levels or an event over 1 MB is refused, naming the limit', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    // Far deeper than JSON.stringify's stack can take: answered 400, not 500.
    const bomb = `[{"data":{"v":${'['.repeat(200_000)}${']'.repeat(200_000)}}}]`;
    const res = await postJson(`${backend.url}/1/batch/refused`, [
      { data: { ['k'.repeat(256)]: 1 } },
      { data: { deep } },
      { data: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`s${i}`, 'x'.repeat(60_000)])) },
      { data: { ok: 1 } },
    ]);
    expect(res.body.map((s: { status: number }) => s.status)).toEqual([400, 400, 400, 202]);
    expect(res.body[0].error).toMatch(/longer than 255 characters/);
    expect(res.body[1].error).toMatch(/nested deeper than 32 levels/);
    expect(res.body[2].error).toMatch(/Event is larger than/);
    const bombed = await postJson(`${backend.url}/1/batch/refused`, bomb);
    expect(bombed.status).toBe(200);
    expect(bombed.body[0].status).toBe(400);
  });

  it('strings past 65,535 bytes are clipped at a character boundary and counted', async () => {
    const before = (await limitCounts(backend.url)).value_truncated!;
    const res = await postJson(`${backend.url}/1/batch/clip`, [{ data: { long: 'é'.repeat(50_000), 'trace.trace_id': 'clip1' } }]);
    expect(res.body[0].status).toBe(202);
    const [entry] = await trace(backend.url, 'clip1');
    const long = entry!.data.long as string;
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(long).toBe('é'.repeat(long.length));
    expect((await limitCounts(backend.url)).value_truncated).toBe(before + 1);
  });

  it('event times before 1970 or more than a year ahead are refused with the reason', async () => {
    const res = await postJson(`${backend.url}/1/batch/times`, [
      { data: { a: 1 }, time: '0001-01-01T00:00:00Z' },
      { data: { a: 2 }, time: 1e20 },
      { data: { a: 3 }, time: new Date(Date.now() + 2 * 366 * 86_400_000).toISOString() },
      { data: { a: 4 }, time: new Date().toISOString() },
    ]);
    expect(res.body.map((s: { status: number }) => s.status)).toEqual([400, 400, 400, 202]);
    for (const s of res.body.slice(0, 3)) expect(s.error).toMatch(/before 1970 or more than a year ahead/);
    const header = await postJson(`${backend.url}/1/events/times`, { a: 5 }, { 'x-honeycomb-event-time': '0001-01-01T00:00:00Z' });
    expect(header.status).toBe(400);
  });

  it('an OTLP span over 2,000 attributes is kept with the rest dropped, and partial_success says how many', async () => {
    for (const format of ['protobuf', 'json'] as const) {
      const span = makeSpan({ attributes: { first: 'yes', ...fields(3000) } as Record<string, AnyValue> });
      const res = await postOtlp(backend.url, encodeTraceRequest(traces(`otlp-${format}`, [span]), format), format === 'json' ? 'application/json' : 'application/x-protobuf');
      expect(res.status).toBe(200);
      const answer = decodeExportTraceResponse(res.body, format);
      expect(answer.rejectedSpans).toBe(0);
      const dropped = Number(/(\d+) field\(s\) past 2000 per event dropped/.exec(answer.errorMessage)?.[1]);
      const [entry] = await trace(backend.url, span.traceId);
      const kept = Object.keys(entry!.data).length;
      expect(kept).toBeLessThanOrEqual(MAX_EVENT_FIELDS);
      expect(entry!.data.first).toBe('yes');
      // Every attribute is either stored or counted as dropped.
      const storedAttributes = Object.keys(entry!.data).filter((k) => k === 'first' || /^k\d+$/.test(k)).length;
      expect(storedAttributes + dropped).toBe(3001);
    }
  });

  it('a span ending before it starts is stored with duration_ms 0 and meta.invalid_duration, as Honeycomb does', async () => {
    const start = BigInt(Date.now() - 1000) * 1_000_000n;
    const span = makeSpan({ startTimeUnixNano: start, endTimeUnixNano: start - 5_000_000n });
    const res = await postOtlp(backend.url, encodeTraceRequest(traces('backwards', [span]), 'protobuf'), 'application/x-protobuf');
    expect(res.status).toBe(200);
    const [entry] = await trace(backend.url, span.traceId);
    expect(entry!.data.duration_ms).toBe(0);
    expect(entry!.data['meta.invalid_duration']).toBe(true);
  });

  it('an OTLP span timed more than a year ahead is rejected through partial_success; the others are kept', async () => {
    const future = BigInt(Date.now() + 3 * 366 * 86_400_000) * 1_000_000n;
    const good = makeSpan();
    const body = encodeTraceRequest(traces('future', [good, makeSpan({ startTimeUnixNano: future, endTimeUnixNano: future + 1n })]), 'protobuf');
    const res = await postOtlp(backend.url, body, 'application/x-protobuf');
    expect(res.status).toBe(200);
    const answer = decodeExportTraceResponse(res.body, 'protobuf');
    expect(answer.rejectedSpans).toBe(1);
    expect(answer.errorMessage).toMatch(/more than a year ahead/);
    expect(await trace(backend.url, good.traceId)).toHaveLength(1);
  });
});

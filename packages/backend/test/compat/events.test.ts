// Compatibility: Honeycomb's Events API (docs.honeycomb.io/api/events, the OpenAPI description's /1/batch and
// /1/events) as senders use it. Each test is a request and the answer Honeycomb documents for it.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/index.js';
import { freshBackend, postJson, runQuery } from '../helpers.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const zstd = promisify(zlib.zstdCompress);

/**
 * A batch exactly as libhoney-go 1.27.1 sends it with `EnableMsgpackEncoding` (what Refinery and honeytail use): the
 * body its encodeBatchMsgp wrote, compressed by its zstd encoder (level 2, 64 KiB window), captured from libhoney-go's
 * own transmission code built against vmihailenco/msgpack v5 and klauspost/compress. 30 events of service
 * "Checkout-Go" from 2025-11-26T04:20:00.123456789Z, 1.5 s apart; events 0, 3, 6, … have SampleRate 10 (on the wire
 * as `samplerate: 10`), the others SampleRate 1 (left out of the event, as libhoney-go does); `time` is a MessagePack
 * timestamp (extension -1); `duration_ms` = i × 1.5 + 0.25; `name` = op-(i mod 4).
 */
const LIBHONEY_GO_BATCH = readFileSync(new URL('../fixtures/libhoney-go-1.27.1-batch.msgpack.zst', import.meta.url));
const BATCH_START_S = Date.UTC(2025, 10, 26, 4, 20, 0) / 1000;
/** The sample rate of the fixture's event i. */
const weight = (i: number): number => (i % 3 === 0 ? 10 : 1);

async function post(url: string, body: Uint8Array | string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text === '' ? '' : JSON.parse(text) };
}

async function count(url: string, dataset: string, spec: Record<string, unknown> = {}): Promise<number> {
  const data = await runQuery(url, dataset, { calculations: [{ op: 'COUNT' }], time_range: 3600, ...spec });
  return Number(data.results[0]?.data.COUNT ?? 0);
}

describe('Events API compatibility', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend({ retention: { maxAgeHours: 0 } });
  });
  afterAll(async () => {
    await backend.close();
  });

  it("libhoney-go's msgpack + zstd batch lands, every event 202, and counts weighted by its samplerate", async () => {
    const res = await post(`${backend.url}/1/batch/Checkout-Go`, LIBHONEY_GO_BATCH, {
      'content-type': 'application/msgpack',
      'content-encoding': 'zstd',
      'user-agent': 'libhoney-go/1.27.1',
      'x-honeycomb-team': 'any',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(Array.from({ length: 30 }, () => ({ status: 202 })));

    const window = { start_time: BATCH_START_S, end_time: BATCH_START_S + 60 };
    const data = await runQuery(backend.url, 'Checkout-Go', {
      ...window,
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'duration_ms' }, { op: 'MAX', column: 'duration_ms' }],
      breakdowns: ['name'],
      orders: [{ column: 'name', order: 'ascending' }],
    });
    // op-0 holds events 0, 4, …, 28: those divisible by 3 (0, 12, 24) weigh 10 each.
    const expected = ['op-0', 'op-1', 'op-2', 'op-3'].map((name, k) => {
      const events = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 4 === k);
      return {
        name,
        COUNT: events.reduce((a, i) => a + weight(i), 0),
        'SUM(duration_ms)': events.reduce((a, i) => a + (i * 1.5 + 0.25) * weight(i), 0),
        'MAX(duration_ms)': Math.max(...events.map((i) => i * 1.5 + 0.25)),
      };
    });
    expect(data.results.map((r) => r.data)).toEqual(expected);
    expect(expected.reduce((a, e) => a + e.COUNT, 0)).toBe(120);

    // The MessagePack timestamp keeps its sub-millisecond digits: the first event is at .123456789 s.
    const first = await runQuery(backend.url, 'Checkout-Go', {
      ...window,
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: 'trace.span_id', op: '=', value: '0000000000001000' }],
      granularity: 1,
    });
    expect(first.series.map((s) => s.time)).toEqual(['2025-11-26T04:20:00.000Z']);
  });

  it('gzip, zstd and deflate bodies land on /1/batch and /1/events', async () => {
    const now = new Date().toISOString();
    const batch = Buffer.from(JSON.stringify([{ data: { via: 'batch' }, time: now }]));
    const event = Buffer.from(JSON.stringify({ via: 'event' }));
    for (const [encoding, compress] of [
      ['gzip', gzip],
      ['zstd', zstd],
      ['deflate', deflate],
    ] as const) {
      const headers = { 'content-type': 'application/json', 'content-encoding': encoding };
      const b = await post(`${backend.url}/1/batch/encodings`, await compress(batch), headers);
      expect(b).toEqual({ status: 200, body: [{ status: 202 }] });
      const e = await post(`${backend.url}/1/events/encodings`, await compress(event), headers);
      expect(e.status).toBe(200);
    }
    expect(await count(backend.url, 'encodings', { filters: [{ column: 'via', op: 'exists' }] })).toBe(6);
  });

  it('application/x-msgpack events: one on /1/events, a batch on /1/batch with samplerate and a timestamp', async () => {
    const time = new Date(Date.now() - 60_000);
    const e = await post(`${backend.url}/1/events/mp`, encode({ kind: 'single', n: 7 }), {
      'content-type': 'application/x-msgpack',
      'x-honeycomb-samplerate': '4',
    });
    expect(e.status).toBe(200);
    const b = await post(
      `${backend.url}/1/batch/mp`,
      encode([
        { data: { kind: 'batch', n: 1 }, samplerate: 3, time },
        { data: { kind: 'batch', n: 2 } },
      ]),
      { 'content-type': 'application/msgpack' },
    );
    expect(b.body).toEqual([{ status: 202 }, { status: 202 }]);
    const data = await runQuery(backend.url, 'mp', {
      time_range: 3600,
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'n' }],
      breakdowns: ['kind'],
      orders: [{ column: 'kind' }],
    });
    expect(data.results.map((r) => r.data)).toEqual([
      { kind: 'single', COUNT: 4, 'SUM(n)': 28 },
      { kind: 'batch', COUNT: 4, 'SUM(n)': 5 },
    ]);
  });

  it('MessagePack values are stored as the same event sent as JSON would be: binary as base64, maps as JSON, timestamps as RFC 3339', async () => {
    const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    const b = await post(
      `${backend.url}/1/batch/mpvalues`,
      encode([{ data: { bin: new Uint8Array([1, 2, 3]), nested: { a: 1, b: [true, 'x'] }, at, big: 2 ** 40, neg: -3, f: 0.5 } }]),
      { 'content-type': 'application/msgpack' },
    );
    expect(b.body).toEqual([{ status: 202 }]);
    const data = await runQuery(backend.url, 'mpvalues', { time_range: 600, breakdowns: ['bin', 'nested', 'at', 'big', 'neg', 'f'] });
    expect(data.results[0]!.data).toEqual({
      COUNT: 1,
      bin: 'AQID',
      nested: '{"a":1,"b":[true,"x"]}',
      at: '2026-01-02T03:04:05.678000000Z',
      big: 2 ** 40,
      neg: -3,
      f: 0.5,
    });
  });

  it("bodies it cannot read get Honeycomb's documented messages; other encodings are 415", async () => {
    const empty = await post(`${backend.url}/1/batch/bad`, '', { 'content-type': 'application/json' });
    expect(empty).toEqual({ status: 400, body: { error: 'Request body should not be empty.' } });
    const malformed = await postJson(`${backend.url}/1/batch/bad`, '[{"data":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/^Request body is malformed and cannot be read\. \(JSON: /);
    const badMsgpack = await post(`${backend.url}/1/batch/bad`, new Uint8Array([0xdc, 0x00, 0x05, 0xc1]), { 'content-type': 'application/msgpack' });
    expect(badMsgpack.status).toBe(400);
    expect(badMsgpack.body.error).toMatch(/^Request body is malformed and cannot be read\. \(MessagePack: /);
    const brotli = await post(`${backend.url}/1/batch/bad`, zlib.brotliCompressSync('[]'), { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(brotli.status).toBe(415);
    expect(brotli.body.error).toBe('content-encoding "br" is not supported; use gzip, zstd, deflate or none');
    const badZstd = await post(`${backend.url}/1/events/bad`, Buffer.from('not zstd'), { 'content-type': 'application/json', 'content-encoding': 'zstd' });
    expect(badZstd.status).toBe(400);
    expect(badZstd.body.error).toMatch(/^request body is not valid zstd data/);
  });

  it('a zstd body that decompresses past the body limit is 413, not read whole', async () => {
    const small = await freshBackend({ bodyLimitBytes: 10_000 });
    try {
      const bomb = await zstd(Buffer.from(JSON.stringify([{ data: { pad: 'x'.repeat(50_000) } }])));
      expect(bomb.length).toBeLessThan(10_000);
      const res = await post(`${small.url}/1/batch/big`, bomb, { 'content-type': 'application/json', 'content-encoding': 'zstd' });
      expect(res.status).toBe(413);
    } finally {
      await small.close();
    }
  });
});

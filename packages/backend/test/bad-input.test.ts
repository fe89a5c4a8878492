import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { decodeExportTraceResponse, decodeRpcStatus, encodeTraceRequest } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { freshBackend, postJson, runQuery } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

const LIMIT = 64 * 1024;

async function postOtlp(url: string, body: Uint8Array | string, type: string, encoding?: string) {
  const headers: Record<string, string> = { 'content-type': type };
  if (encoding) headers['content-encoding'] = encoding;
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers, body });
  return { status: res.status, type: res.headers.get('content-type'), body: new Uint8Array(await res.arrayBuffer()) };
}

async function count(url: string, dataset: string): Promise<number> {
  const data = await runQuery(url, dataset, { time_range: 3600, calculations: [{ op: 'COUNT' }] });
  return (data.results[0]?.data.COUNT as number | undefined) ?? 0;
}

describe('bad input gets a clear 4xx and never takes the backend down', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend({ bodyLimitBytes: LIMIT });
  });
  afterAll(async () => {
    await backend.close();
  });

  it('malformed protobuf → 400 with a google.rpc.Status protobuf body naming the problem', async () => {
    const res = await postOtlp(backend.url, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 'application/x-protobuf');
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/x-protobuf');
    const status = decodeRpcStatus(res.body, 'protobuf');
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/malformed OTLP protobuf/);
  });

  it('truncated protobuf → 400, and the same request whole is accepted', async () => {
    const body = encodeTraceRequest(traces('trunc-svc', [makeSpan(), makeSpan()]), 'protobuf');
    const cut = await postOtlp(backend.url, body.subarray(0, Math.floor(body.length / 2)), 'application/x-protobuf');
    expect(cut.status).toBe(400);
    const whole = await postOtlp(backend.url, body, 'application/x-protobuf');
    expect(whole.status).toBe(200);
    expect(await count(backend.url, 'trunc-svc')).toBe(2);
  });

  it('malformed JSON → 400 with a JSON google.rpc.Status body', async () => {
    const res = await postOtlp(backend.url, '{"resourceSpans": [', 'application/json');
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/json');
    const status = JSON.parse(new TextDecoder().decode(res.body));
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/malformed OTLP json/);
  });

  it('an empty OTLP request is accepted with 200', async () => {
    const res = await postOtlp(backend.url, new Uint8Array(0), 'application/x-protobuf');
    expect(res.status).toBe(200);
    expect(decodeExportTraceResponse(res.body, 'protobuf').rejectedSpans).toBe(0);
  });

  it('spans the codec cannot read are rejected through partial_success and the rest are kept', async () => {
    for (const format of ['protobuf', 'json'] as const) {
      const service = `partial-${format}`;
      const body = encodeTraceRequest(traces(service, [makeSpan(), makeSpan({ spanId: '' }), makeSpan()]), format);
      const res = await postOtlp(backend.url, body, format === 'json' ? 'application/json' : 'application/x-protobuf');
      expect(res.status).toBe(200);
      const parsed = decodeExportTraceResponse(res.body, format);
      expect(parsed.rejectedSpans).toBe(1);
      expect(parsed.errorMessage).toMatch(/span_id|spanId/);
      expect(await count(backend.url, service)).toBe(2);
    }
  });

  it('wrong content types → 415 naming what is accepted', async () => {
    const otlp = await postOtlp(backend.url, 'hello', 'text/plain');
    expect(otlp.status).toBe(415);
    expect(new TextDecoder().decode(otlp.body)).toMatch(/application\/x-protobuf or application\/json/);
    const batch = await postJson(`${backend.url}/1/batch/x`, '<xml/>', { 'content-type': 'application/xml' });
    expect(batch.status).toBe(415);
    expect(batch.body.error).toMatch(/application\/json/);
    const enc = await postOtlp(backend.url, new Uint8Array(0), 'application/x-protobuf', 'br');
    expect(enc.status).toBe(415);
  });

  it('oversized bodies → 413, both raw and after gzip decompression', async () => {
    const big = encodeTraceRequest(
      traces('big-svc', Array.from({ length: 400 }, () => makeSpan({ attributes: { pad: 'x'.repeat(300) } }))),
      'protobuf',
    );
    expect(big.length).toBeGreaterThan(LIMIT);
    const raw = await postOtlp(backend.url, big, 'application/x-protobuf');
    expect(raw.status).toBe(413);
    const zipped = gzipSync(big);
    expect(zipped.length).toBeLessThan(LIMIT);
    const bomb = await postOtlp(backend.url, zipped, 'application/x-protobuf', 'gzip');
    expect(bomb.status).toBe(413);
    expect(decodeRpcStatus(bomb.body, 'protobuf').message).toMatch(/decompressed request body is larger/);
    const batch = await postJson(`${backend.url}/1/batch/big`, JSON.stringify([{ data: { pad: 'y'.repeat(LIMIT) } }]));
    expect(batch.status).toBe(413);
  });

  it('truncated gzip → 400', async () => {
    const zipped = gzipSync(encodeTraceRequest(traces('gz-svc', [makeSpan()]), 'protobuf'));
    const res = await postOtlp(backend.url, zipped.subarray(0, zipped.length - 8), 'application/x-protobuf', 'gzip');
    expect(res.status).toBe(400);
    expect(decodeRpcStatus(res.body, 'protobuf').message).toMatch(/not valid gzip/);
  });

  it('a client that declares more body than it sends and hangs up does not disturb the server', async () => {
    await new Promise<void>((resolve, reject) => {
      const { port, hostname } = new URL(backend.url);
      const socket = net.connect(Number(port), hostname, () => {
        socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 5000\r\n\r\n\x0a\x05');
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const ok = await postOtlp(backend.url, encodeTraceRequest(traces('after-hangup', [makeSpan()]), 'protobuf'), 'application/x-protobuf');
    expect(ok.status).toBe(200);
  });

  it('a batch with invalid events keeps the valid ones and reports each status in order', async () => {
    const now = new Date().toISOString();
    const res = await postJson(`${backend.url}/1/batch/mixed`, [
      { data: { a: 1 }, time: now },
      { data: 'not an object' },
      { data: { a: 2 }, time: 'yesterday-ish' },
      { data: { a: 3 }, samplerate: 'ten' },
      null,
      { data: { a: 4 }, time: now, samplerate: 4 },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.map((s: { status: number }) => s.status)).toEqual([202, 400, 400, 400, 400, 202]);
    expect(res.body[2].error).toMatch(/RFC 3339/);
    expect(await count(backend.url, 'mixed')).toBe(1 + 4);
  });

  it('a batch body that is not an array or not JSON → 400', async () => {
    expect((await postJson(`${backend.url}/1/batch/x`, { data: {} })).status).toBe(400);
    const notJson = await postJson(`${backend.url}/1/batch/x`, '[{"data":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toMatch(/^Request body is malformed and cannot be read\. \(JSON: /);
  });

  it('invalid query specs → 400 naming the field and the rule', async () => {
    await postJson(`${backend.url}/1/batch/spec`, [{ data: { n: 1, s: 'a', ok: true } }]);
    const cases: [unknown, RegExp][] = [
      [{ calculations: [{ op: 'MEDIAN', column: 'n' }] }, /^calculations\[0\]\.op: must be one of COUNT/],
      [{ calculations: [{ op: 'P99' }] }, /^calculations\[0\]\.column: must be a non-empty column name/],
      [{ calculations: [{ op: 'AVG', column: 'nope' }] }, /^calculations\[0\]\.column: unknown column "nope"/],
      [{ calculations: [{ op: 'SUM', column: 'ok' }] }, /^calculations\[0\]\.column: SUM needs a numeric column/],
      [{ filters: [{ column: 'n', op: 'like', value: 1 }] }, /^filters\[0\]\.op: must be one of =, !=/],
      [{ filters: [{ column: 'n', op: '>', value: 'abc' }] }, /^filters\[0\]\.value: must be a number/],
      [{ filters: [{ column: 'n', op: 'in', value: [] }] }, /^filters\[0\]\.value: must be a non-empty array/],
      [{ filters: [{ column: 's', op: '=' }] }, /^filters\[0\]\.value: is required for =/],
      [{ filter_combination: 'XOR' }, /^filter_combination: must be "AND" or "OR"/],
      [{ breakdowns: 'n' }, /^breakdowns: must be an array/],
      [{ limit: 0 }, /^limit: must be an integer from 1 to 1000$/],
      [{ time_range: -5 }, /^time_range: must be a non-negative integer/],
      [{ start_time: 100, end_time: 50 }, /^end_time: must be after start_time/],
      [{ time_range: 86400, granularity: 10 }, /^granularity: must be at least time range \/ 1000/],
      [{ orders: [{ op: 'P50', column: 'n' }] }, /^orders\[0\]: P50\(n\) is not one of this query's calculations/],
      [{ havings: [{ calculate_op: 'COUNT', op: '>', value: 'x' }] }, /^havings\[0\]\.value: must be a number/],
      [42, /^query: must be a JSON object/],
      // Size limits: Honeycomb's 100 items per list, 1,000 values per `in`.
      [{ filters: Array.from({ length: 101 }, () => ({ column: 'n', op: '=', value: 1 })) }, /^filters: has 101 items; at most 100/],
      [{ filters: [{ column: 's', op: 'in', value: Array.from({ length: 1001 }, (_, i) => `v${i}`) }] }, /^filters\[0\]\.value: has 1001 values; at most 1000/],
      [{ calculations: Array.from({ length: 101 }, () => ({ op: 'COUNT' })) }, /^calculations: has 101 items; at most 100/],
      [{ breakdowns: Array.from({ length: 101 }, () => 'n') }, /^breakdowns: has 101 items/],
      [{ orders: Array.from({ length: 101 }, () => ({ op: 'COUNT' })) }, /^orders: has 101 items/],
    ];
    for (const [spec, message] of cases) {
      const res = await postJson(`${backend.url}/1/queries/spec`, spec);
      expect(res.status, JSON.stringify(spec).slice(0, 200)).toBe(400);
      expect(res.body.error, JSON.stringify(spec).slice(0, 200)).toMatch(message);
    }
    const bubble = await postJson(`${backend.url}/api/bubbleup/spec`, {
      selection: { filters: [{ column: 's', op: 'not-in', value: Array.from({ length: 2000 }, (_, i) => i) }] },
    });
    expect(bubble.status).toBe(400);
    expect(bubble.body.error).toMatch(/^selection\.filters\[0\]\.value: has 2000 values/);
    const unknownDataset = await postJson(`${backend.url}/1/queries/no-such-dataset`, {});
    expect(unknownDataset.status).toBe(404);
  });

  it('keys with lone surrogates (JSON can carry them) are stored as UTF-8 stores them, and never block later commits', async () => {
    for (const body of ['[{"data":{"\\ud800":1}}]', '[{"data":{"\\udbff":2}}]', '[{"data":{"after":3}}]']) {
      const res = await postJson(`${backend.url}/1/batch/surrogates`, body);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([{ status: 202 }]);
    }
    const data = await runQuery(backend.url, 'surrogates', { time_range: 3600, breakdowns: ['\uFFFD'], calculations: [{ op: 'COUNT' }] });
    expect(data.results.map((r) => r.data['\uFFFD']).toSorted()).toEqual([1, 2, null]);
  });

  it('SQL-like text in column names and filter values is data, never SQL', async () => {
    const evil = `x" FROM events; DROP TABLE events; --`;
    const quote = `' OR '1'='1`;
    const events = [
      { data: { [evil]: quote, n: 1 } },
      { data: { [evil]: 'plain', n: 2 } },
      { data: { [evil]: `"; DELETE FROM events; --`, n: 3 } },
    ];
    expect((await postJson(`${backend.url}/1/batch/sqli`, events)).status).toBe(200);
    const matchQuote = await runQuery(backend.url, 'sqli', {
      time_range: 3600,
      breakdowns: [evil],
      calculations: [{ op: 'COUNT' }, { op: 'SUM', column: 'n' }],
      filters: [{ column: evil, op: '=', value: quote }],
    });
    expect(matchQuote.results).toEqual([{ data: { [evil]: quote, COUNT: 1, 'SUM(n)': 1 } }]);
    const contains = await runQuery(backend.url, 'sqli', {
      time_range: 3600,
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: evil, op: 'contains', value: `'; DROP TABLE` }],
    });
    expect(contains.results).toEqual([]);
    const inList = await runQuery(backend.url, 'sqli', {
      time_range: 3600,
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: evil, op: 'in', value: [quote, `"; DELETE FROM events; --`] }],
    });
    expect(inList.results[0]!.data.COUNT).toBe(2);
    const badColumn = await postJson(`${backend.url}/1/queries/sqli`, { breakdowns: [`n"; DROP TABLE events; --`] });
    expect(badColumn.status).toBe(400);
    // Everything is still there.
    expect(await count(backend.url, 'sqli')).toBe(3);
  });
});

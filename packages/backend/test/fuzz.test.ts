// Issue 20: a seeded fuzz run in CI. A few thousand generated OTLP protobuf, OTLP JSON and Events API bodies (valid,
// extreme and mutated); the backend must answer every one (never 5xx, never hang), keep serving, and keep the data it
// held before. The seed is printed; WAGGLE_FUZZ_SEED replays a run, WAGGLE_FUZZ_RUNS changes its size.
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { encodeTraceRequest, type AnyValue, type Span, type TracesData } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, runQuery, tempDir } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';
// @ts-expect-error plain ESM fixture
import { startServer, stopServer } from './fixtures/wide-events.mjs';

const built = existsSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js'));

const SEED = Number(process.env.WAGGLE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.WAGGLE_FUZZ_RUNS ?? 2400);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
let state = SEED >>> 0;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
const chance = (p: number): boolean => rand() < p;
const hex = (bytes: number): string => Array.from({ length: bytes }, () => int(256).toString(16).padStart(2, '0')).join('');

const STRINGS = ['', 'a', 'é', '😀', '\u0000', '\u001b]0;pwned\u0007', '"; DROP TABLE events; --', '<script>alert(1)</script>', '12', 'true', ' 7 ', 'NaN', '1e400'];
function randomString(): string {
  if (chance(0.05)) return 'x'.repeat(int(100_000));
  if (chance(0.5)) return pick(STRINGS);
  return Array.from({ length: int(20) }, () => String.fromCodePoint(pick([int(128), int(0x800), int(0x10000), 0xd800 + int(0x800)]))).join('');
}
const KEYS = ['http.route', 'name', 'duration_ms', 'trace.trace_id', 'sampleRate', 'SampleRate', '__proto__', 'constructor', 'toString', '', 'a.b', 'meta.invalid_duration', 'service.name'];
const randomKey = (): string => (chance(0.4) ? pick(KEYS) : chance(0.02) ? 'k'.repeat(300) : `k${int(50)}`);

function randomAnyValue(depth = 0): AnyValue {
  // Containers only near the top (and a rare deep chain), so sizes stay bounded.
  if (depth > 2 && chance(0.9)) return randomString();
  switch (int(depth > 8 ? 5 : 8)) {
    case 0:
      return randomString();
    case 1:
      return pick([0, -1, 2 ** 53, -(2 ** 63), 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0, int(1000)]);
    case 2:
      return chance(0.5);
    case 3:
      return null;
    case 4:
      return new Uint8Array(Array.from({ length: int(10) }, () => int(256)));
    case 5:
      return Array.from({ length: int(4) }, () => randomAnyValue(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: int(5) }, () => [randomKey(), randomAnyValue(depth + 1)]));
  }
}

const randomAttributes = (n: number, depth = 0): Record<string, AnyValue> => Object.fromEntries(Array.from({ length: n }, () => [randomKey(), randomAnyValue(depth)]));

function randomTime(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  return pick([now - BigInt(int(1e9)) * 1000n, 0n, 2n ** 64n - 1n, now + 10n ** 18n, now]);
}

function randomSpan(): Span {
  const start = randomTime();
  return makeSpan({
    traceId: pick([hex(16), hex(16), '0'.repeat(32), hex(8)]),
    spanId: pick([hex(8), hex(8), '0'.repeat(16)]),
    parentSpanId: pick(['', hex(8)]),
    name: randomString(),
    kind: int(9) as Span['kind'],
    startTimeUnixNano: start,
    endTimeUnixNano: pick([start + BigInt(int(1e9)), start > 10n ? start - 10n : 0n, randomTime()]),
    attributes: chance(0.02) ? Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`w${i}`, i])) : randomAttributes(int(8)),
    events: Array.from({ length: int(3) }, () => ({ timeUnixNano: randomTime(), name: pick(['exception', 'retry', randomString()]), attributes: randomAttributes(int(4)), droppedAttributesCount: 0 })),
    links: Array.from({ length: int(2) }, () => ({ traceId: hex(16), spanId: hex(8), traceState: '', attributes: randomAttributes(int(3)), droppedAttributesCount: 0, flags: 0 })),
    status: { code: int(4) as 0 | 1 | 2, message: randomString() },
  });
}

function randomTraces(): TracesData {
  return {
    resourceSpans: Array.from({ length: 1 + int(2) }, () => ({
      resource: { attributes: { 'service.name': pick(['fuzz-svc', randomString(), '']), ...randomAttributes(int(4)) }, droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: Array.from({ length: 1 + int(2) }, () => ({
        scope: { name: randomString(), version: '', attributes: randomAttributes(int(2)) },
        schemaUrl: '',
        spans: Array.from({ length: int(6) }, randomSpan),
      })),
    })),
  };
}

/** Byte-level damage: flips, cuts, inserts, duplicated slices, huge varints. */
function mutate(bytes: Uint8Array): Uint8Array {
  const out = Buffer.from(bytes);
  switch (int(6)) {
    case 0:
      for (let i = 0; i < 1 + int(8) && out.length > 0; i++) out[int(out.length)] = int(256);
      return out;
    case 1:
      return out.subarray(0, int(out.length + 1));
    case 2: {
      const at = int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256))), out.subarray(at)]);
    }
    case 3: {
      const a = int(out.length + 1);
      const b = a + int(out.length - a + 1);
      return Buffer.concat([out, out.subarray(a, b), out.subarray(a, b)]);
    }
    case 4: {
      const at = int(out.length + 1);
      return Buffer.concat([out.subarray(0, at), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), out.subarray(at)]);
    }
    default:
      return out;
  }
}

function randomJson(depth = 0): unknown {
  if (depth > 2 && chance(0.8)) return randomString();
  switch (int(depth > 5 ? 4 : 7)) {
    case 0:
      return randomString();
    case 1:
      return pick([0, -1, 1e20, 1e308, 2 ** 64, 0.5, -0]);
    case 2:
      return chance(0.5);
    case 3:
      return null;
    case 4:
      return Array.from({ length: int(4) }, () => randomJson(depth + 1));
    default:
      if (depth === 0 && chance(0.02)) return Object.fromEntries(Array.from({ length: 2500 }, (_, i) => [`w${i}`, i]));
      return Object.fromEntries(Array.from({ length: int(6) }, () => [randomKey(), randomJson(depth + 1)]));
  }
}

function randomEvent(): unknown {
  if (chance(0.05)) return randomJson();
  const event: Record<string, unknown> = { data: chance(0.9) ? randomJson(4) : randomJson() };
  if (chance(0.5)) event.time = pick([new Date().toISOString(), '0001-01-01T00:00:00Z', 1e20, -5, 'yesterday', Date.now() / 1000, '2026-01-01T00:00:00.123456789Z', null, {}]);
  if (chance(0.3)) event.samplerate = pick([1, 10, 0, -3, 1.5, 'ten', null, 2 ** 40]);
  return event;
}

const deepNest = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;

interface Body {
  path: string;
  type: string;
  body: Uint8Array;
  encoding?: string;
}

function generate(): Body {
  const kind = int(3);
  let body: Uint8Array;
  let target: string;
  let type: string;
  if (kind === 0) {
    target = '/v1/traces';
    type = 'application/x-protobuf';
    body = encodeTraceRequest(randomTraces(), 'protobuf');
    if (chance(0.5)) body = mutate(body);
  } else if (kind === 1) {
    target = '/v1/traces';
    type = 'application/json';
    let text = Buffer.from(encodeTraceRequest(randomTraces(), 'json')).toString('utf8');
    if (chance(0.3)) text = text.replaceAll('"intValue"', pick(['"stringValue"', '"doubleValue"', '"kvlistValue"'])).replaceAll('"startTimeUnixNano"', pick(['"startTimeUnixNano"', '"endTimeUnixNano"']));
    if (chance(0.05)) text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"arrayValue":{"values":${deepNest(5000)}}}}]}]}]}]}`;
    body = Buffer.from(text);
    if (chance(0.4)) body = mutate(body);
  } else {
    const single = chance(0.3);
    target = `${single ? '/1/events/' : '/1/batch/'}${encodeURIComponent(pick(['fuzz-events', randomString() || 'x']).slice(0, 200).replace(/[\uD800-\uDFFF]/g, '?'))}`;
    type = pick(['application/json', 'application/json', 'text/plain', 'application/x-ndjson']);
    let text = single ? JSON.stringify(randomJson(3)) : JSON.stringify(chance(0.9) ? Array.from({ length: int(20) }, randomEvent) : randomJson());
    if (chance(0.05)) text = `[{"data":{"v":${deepNest(100_000)}}}]`;
    body = Buffer.from(text ?? 'null');
    if (chance(0.3)) body = mutate(body);
  }
  if (chance(0.1)) return { path: target, type, body: chance(0.8) ? gzipSync(body) : body, encoding: 'gzip' };
  return { path: target, type, body };
}

// The backend runs in its own process: its event loop is not the generator's, and a crash shows as an exit.
let server: { child: ChildProcess; url: string; stderr: () => string } | undefined;
let url = '';
const dataDir = tempDir('waggle-fuzz-');
const known = { spans: 40, events: 25 };
const knownTraceId = `${'f'.repeat(31)}1`;

beforeAll(async () => {
  // Straight to stderr: `npm test` runs vitest's minimal reporter, which does not print console.log.
  process.stderr.write(`fuzz: seed ${SEED}, ${RUNS} bodies (replay with WAGGLE_FUZZ_SEED=${SEED})\n`);
  if (!built) return;
  server = (await startServer(dataDir)) as { child: ChildProcess; url: string; stderr: () => string };
  url = server.url;
  // Data held before the fuzzing, checked after it.
  const spans = Array.from({ length: known.spans }, (_, i) => makeSpan(i === 0 ? { traceId: knownTraceId } : {}));
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: encodeTraceRequest(traces('before-fuzz', spans), 'protobuf') });
  expect(res.status).toBe(200);
  expect((await postJson(`${url}/1/batch/before-fuzz-events`, Array.from({ length: known.events }, (_, i) => ({ data: { i } })))).status).toBe(200);
});

afterAll(async () => {
  if (server) await stopServer(server.child);
  rmSync(dataDir, { recursive: true, force: true });
});

async function countOf(dataset: string): Promise<number> {
  return ((await runQuery(url, dataset, { time_range: 7200 })).results[0]?.data.COUNT as number | undefined) ?? 0;
}

describe(`fuzz (seed ${SEED})`, () => {
  it.runIf(built)('every generated body gets an answer that is not 5xx, the backend keeps serving, and the data from before is intact', async () => {
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let retried = 0;
    const send = (b: Body, headers: Record<string, string>) =>
      fetch(`${url}${b.path}`, { method: 'POST', headers, body: b.body, signal: AbortSignal.timeout(30_000) });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < RUNS && failures.length === 0) {
        const n = next++;
        let b: Body;
        try {
          b = generate();
        } catch {
          // A value the encoder itself refuses (an id of the wrong length): random bytes instead.
          b = { path: '/v1/traces', type: 'application/x-protobuf', body: Buffer.from(Array.from({ length: int(200) }, () => int(256))) };
        }
        // Let timers run after a long generation, so fetch does not reuse a keep-alive connection the server closed.
        await new Promise((r) => setTimeout(r, 0));
        const headers: Record<string, string> = { 'content-type': b.type };
        if (b.encoding) headers['content-encoding'] = b.encoding;
        let res: Response;
        try {
          res = await send(b, headers).catch(() => {
            // A reset before any answer (a keep-alive race) is retried once, on a new connection.
            retried++;
            return send(b, { ...headers, connection: 'close' });
          });
        } catch (error) {
          const cause = (error as Error & { cause?: Error }).cause;
          failures.push(`#${n} ${b.path} ${b.type} (${b.body.length} bytes): no answer (${(error as Error).message}${cause ? `: ${cause.message}` : ''})`);
          continue;
        }
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status >= 500) failures.push(`#${n} ${b.path} ${b.type} → ${res.status}: ${text.slice(0, 300)}`);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    console.log(`fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${retried} retried after a connection reset`);
    expect(failures, `seed ${SEED}; the backend's last words: ${server!.stderr().slice(-2000)}`).toEqual([]);
    expect(server!.child.exitCode).toBeNull();
    // Still serving, and what it held before is all there.
    expect(await countOf('before-fuzz')).toBe(known.spans);
    expect(await countOf('before-fuzz-events')).toBe(known.events);
    expect((await fetch(`${url}/api/traces/${knownTraceId}`)).status).toBe(200);
    expect((await fetch(`${url}/1/datasets`)).status).toBe(200);
  }, 240_000);

  it.skipIf(built)('the fuzz test needs the package built (npm run build)', () => {
    if (process.env.CI === 'true') throw new Error('dist/index.js missing: build @waggle/backend before testing');
    console.warn('skipping the fuzz test: run `npx tsc -p tsconfig.build.json` first');
  });
});

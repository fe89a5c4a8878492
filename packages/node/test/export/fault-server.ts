// A real OTLP/HTTP receiver on 127.0.0.1 whose behaviour can be switched mid-test: healthy, 400, 503, 429 with
// Retry-After, hang (reads the request, never answers), garbage (raw bytes that are not HTTP), or down (port closed).
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeTraceRequest } from '@waggle/otlp';

export type FaultMode = 'ok' | '400' | '503' | '429' | 'hang' | 'garbage' | 'down';

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  durationMs: number;
  status: number;
}

export interface FaultServer {
  url: string;
  mode: FaultMode;
  retryAfter: string;
  /** Body of 200 answers (an ExportTraceServiceResponse in JSON). */
  okBody: string;
  /** Time of every request that reached the server (including the ones it failed). */
  attempts: number[];
  /** content-encoding of every request answered 200 ('' when absent). */
  encodings: string[];
  /** Spans from requests answered 200. */
  spans: ReceivedSpan[];
  /** Time a request was first answered 200 after setMode('ok'). */
  firstOkAt: number | undefined;
  setMode(mode: FaultMode): Promise<void>;
  close(): Promise<void>;
}

function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (!v) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return ((v.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(anyValue);
  return undefined;
}

function nanos(v: unknown): bigint {
  if (typeof v === 'string' || typeof v === 'number') return BigInt(v);
  if (v && typeof v === 'object' && 'low' in v) {
    const { low, high } = v as { low: number; high: number };
    return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
  }
  return 0n;
}

/** Decodes an OTLP/protobuf ExportTraceServiceRequest (with @waggle/otlp) into flat spans. */
export function decodeProtobufSpans(body: Uint8Array): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of decodeTraceRequest(body, 'protobuf').resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        out.push({
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          attributes: s.attributes as Record<string, unknown>,
          durationMs: Number(s.endTimeUnixNano - s.startTimeUnixNano) / 1e6,
          status: s.status.code,
        });
      }
    }
  }
  return out;
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest into flat spans. */
export function decodeJsonSpans(body: string): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  const data = JSON.parse(body) as { resourceSpans?: { scopeSpans?: { spans?: Record<string, any>[] }[] }[] };
  for (const rs of data.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const attributes: Record<string, unknown> = {};
        for (const kv of s.attributes ?? []) attributes[kv.key] = anyValue(kv.value);
        out.push({
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          attributes,
          durationMs: Number(nanos(s.endTimeUnixNano) - nanos(s.startTimeUnixNano)) / 1e6,
          status: s.status?.code ?? 0,
        });
      }
    }
  }
  return out;
}

export async function startFaultServer(initial: FaultMode = 'ok'): Promise<FaultServer> {
  const sockets = new Set<Socket>();
  let server: http.Server | undefined;
  let port = 0;
  const state: FaultServer = {
    url: '',
    mode: initial,
    retryAfter: '1',
    okBody: '{}',
    encodings: [],
    attempts: [],
    spans: [],
    firstOkAt: undefined,
    async setMode(mode) {
      const wasDown = state.mode === 'down';
      state.mode = mode;
      if (mode === 'ok') state.firstOkAt = undefined;
      if (mode === 'down' && server) await stop();
      if (wasDown && mode !== 'down') await listen();
    },
    async close() {
      await stop();
    },
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.attempts.push(Date.now());
      switch (state.mode) {
        case '400':
          res.writeHead(400).end('bad request');
          return;
        case '503':
          res.writeHead(503).end('unavailable');
          return;
        case '429':
          res.writeHead(429, { 'retry-after': state.retryAfter }).end('slow down');
          return;
        case 'hang':
          return;
        case 'garbage':
          req.socket.end('\x00\x01this is not HTTP at all\r\n\r\n');
          return;
        default: {
          state.firstOkAt ??= Date.now();
          const raw = Buffer.concat(chunks);
          state.encodings.push(req.headers['content-encoding'] ?? '');
          const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
          if ((req.headers['content-type'] ?? '').includes('json')) state.spans.push(...decodeJsonSpans(body.toString('utf8')));
          else state.spans.push(...decodeProtobufSpans(body));
          res.writeHead(200, { 'content-type': 'application/json' }).end(state.okBody);
        }
      }
    });
  };

  async function listen(): Promise<void> {
    server = http.createServer(handler);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    state.url = `http://127.0.0.1:${port}/v1/traces`;
  }

  async function stop(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  await listen();
  if (initial === 'down') await stop();
  return state;
}

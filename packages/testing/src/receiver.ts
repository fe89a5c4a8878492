// In-process OTLP/HTTP trace receiver for tests: decodes with @waggle/otlp, stores spans in arrival
// order, and can inject faults (status codes, delays, hangs, connection resets).
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzip } from 'node:zlib';
import { OtlpDecodeError, contentTypeOf, decodeTraceRequest, encodeExportTraceResponse, encodeRpcStatus, formatFromContentType } from '@waggle/otlp';
import type { OtlpFormat } from '@waggle/otlp';
import { toReceivedSpans } from './spans.js';
import type { FaultHandler, FaultResponse, ReceivedRequest, ReceivedSpan, ReceiverOptions, SpanMatch, WaitOptions } from './types.js';

/** Request bodies above this (compressed or not) get 413: a test receiver should never buffer without bound. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_WAIT_MS = 15_000;

/** What the receiver recorded about one request to /v1/traces. */
export interface RequestRecord {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  format: OtlpFormat | undefined;
  /** Spans stored from this request (0 when it was rejected or answered by a fault handler). */
  spanCount: number;
  /** The HTTP status answered, or undefined for 'hang' / 'destroy'. */
  status: number | undefined;
  /** Why the receiver rejected the request (4xx/5xx it chose itself), e.g. the decode error. */
  error?: string;
}

interface Waiter {
  match: SpanMatch;
  resolve: (spans: ReceivedSpan[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

function describeMatch(match: SpanMatch): string {
  if (typeof match === 'number') return `${match} span(s)`;
  if (typeof match === 'function') return `a predicate over all spans (${match.name || 'anonymous'})`;
  const parts: string[] = [];
  parts.push(`${match.count ?? 1} span(s)`);
  if (match.name !== undefined) parts.push(`named ${String(match.name)}`);
  if (match.where) parts.push(`where ${match.where.name || 'predicate'}`);
  return parts.join(' ');
}

/** The spans `match` is satisfied by, or undefined while it is not. */
function evaluate(match: SpanMatch, spans: ReceivedSpan[]): ReceivedSpan[] | undefined {
  if (typeof match === 'number') return spans.length >= match ? spans.slice() : undefined;
  if (typeof match === 'function') return match(spans) ? spans.slice() : undefined;
  const { name, where } = match;
  const matching = spans.filter(
    (s) => (name === undefined || (name instanceof RegExp ? name.test(s.name) : s.name === name)) && (where === undefined || where(s)),
  );
  return matching.length >= (match.count ?? 1) ? matching : undefined;
}

export class OtlpReceiver {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #spans: ReceivedSpan[] = [];
  #requests: RequestRecord[] = [];
  #waiters = new Set<Waiter>();
  #handler: FaultHandler | null = null;
  #closed = false;
  /** Base URL, e.g. http://127.0.0.1:43123 (what OTEL_EXPORTER_OTLP_ENDPOINT expects). */
  readonly url: string;
  /** `${url}/v1/traces` (what OTEL_EXPORTER_OTLP_TRACES_ENDPOINT expects). */
  readonly tracesUrl: string;

  /** Use startReceiver(). */
  constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
    this.tracesUrl = `${url}/v1/traces`;
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#handle(req, res).catch((err: unknown) => {
        // A throwing fault handler (a test bug) answers 500 with the error rather than crashing the test process.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(`receiver error: ${String(err)}\n`);
      });
    });
  }

  /** Every span received so far, in arrival order. */
  get spans(): readonly ReceivedSpan[] {
    return this.#spans;
  }

  /** Requests to /v1/traces seen so far (including rejected and fault-injected ones). */
  get requestCount(): number {
    return this.#requests.length;
  }

  /** One record per request to /v1/traces, in arrival order (headers, format, status, span count). */
  get requests(): readonly RequestRecord[] {
    return this.#requests;
  }

  /**
   * Resolves with the matching spans once `match` holds: a count (all spans, once at least that many
   * arrived), a predicate over all spans (all spans), or `{ name, count, where }` (the matching spans).
   * Rejects after `timeoutMs` (default 15 s) with the names of the spans that did arrive.
   */
  waitForSpans(match: SpanMatch, options: WaitOptions = {}): Promise<ReceivedSpan[]> {
    const now = evaluate(match, this.#spans);
    if (now !== undefined) return Promise.resolve(now);
    if (this.#closed) return Promise.reject(new Error(`waitForSpans: receiver is closed; ${this.#summary()}`));
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(new Error(`waitForSpans timed out after ${timeoutMs} ms waiting for ${describeMatch(match)}; ${this.#summary()}`));
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  /** Forgets all spans and requests received so far. */
  clear(): void {
    this.#spans = [];
    this.#requests = [];
  }

  /**
   * Installs a fault handler consulted for every request before normal handling, or removes it with null.
   * @example receiver.respondWith((req) => (req.index === 0 ? { status: 503 } : undefined)) // fail the first export
   */
  respondWith(handler: FaultHandler | null): void {
    this.#handler = handler;
  }

  /** Stops listening, drops open connections (including hung ones) and rejects pending waits. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`waitForSpans: receiver closed while waiting for ${describeMatch(w.match)}; ${this.#summary()}`));
    }
    this.#waiters.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    this.#server.closeAllConnections();
    await closed;
  }

  #summary(): string {
    const names = this.#spans.map((s) => `${s.name} (${s.kindName}${s.serviceName ? `, ${s.serviceName}` : ''})`);
    const shown = names.length > 50 ? [...names.slice(0, 50), `… ${names.length - 50} more`] : names;
    const rejected = this.#requests.filter((r) => r.error !== undefined).map((r) => `${r.status}: ${r.error}`);
    return (
      `received ${this.#spans.length} span(s) in ${this.#requests.length} request(s)${shown.length ? `: ${shown.join(', ')}` : ''}` +
      (rejected.length ? `; rejected ${rejected.length} request(s): ${rejected.slice(0, 5).join('; ')}` : '')
    );
  }

  #notify(): void {
    for (const w of this.#waiters) {
      let result: ReceivedSpan[] | undefined;
      try {
        result = evaluate(w.match, this.#spans);
      } catch (err) {
        this.#waiters.delete(w);
        clearTimeout(w.timer);
        w.reject(err as Error);
        continue;
      }
      if (result !== undefined) {
        this.#waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(result);
      }
    }
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method === 'POST' && (path === '/v1/metrics' || path === '/v1/logs')) {
      // Apps export every signal to OTEL_EXPORTER_OTLP_ENDPOINT; accept and drop the other signals so
      // their exporters do not fill the child's stderr with errors.
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/x-protobuf' }).end());
      return;
    }
    if (path !== '/v1/traces') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: this receiver accepts POST /v1/traces\n');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('method not allowed: use POST\n');
      return;
    }
    const format = formatFromContentType(req.headers['content-type']);
    const record: RequestRecord = { method: req.method, url: req.url ?? '', headers: req.headers, format, spanCount: 0, status: undefined };
    const index = this.#requests.length;
    this.#requests.push(record);
    const send = (status: number, fmt: OtlpFormat | undefined, body: Uint8Array | string, headers: Record<string, string> = {}) => {
      record.status = status;
      const type = fmt ? contentTypeOf(fmt) : 'text/plain';
      res.writeHead(status, { 'content-type': type, ...headers }).end(body);
    };
    const rejectWith = (status: number, message: string) => {
      record.error = message;
      send(status, format, format ? encodeRpcStatus({ code: status === 400 ? 3 : 2, message }, format) : `${message}\n`);
    };

    let body: Uint8Array;
    try {
      body = await readBody(req);
    } catch (err) {
      rejectWith((err as { status?: number }).status ?? 400, (err as Error).message);
      return;
    }

    if (this.#handler) {
      const request: ReceivedRequest = { method: req.method, url: req.url ?? '', headers: req.headers, format, body, index };
      const fault = await this.#handler(request);
      if (fault === 'hang') return;
      if (fault === 'destroy') {
        req.socket.destroy();
        return;
      }
      if (fault != null) {
        this.#answerFault(fault, record, res);
        return;
      }
    }

    if (format === undefined) {
      record.error = `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}`;
      send(415, undefined, `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}; send application/x-protobuf or application/json\n`);
      return;
    }
    let spans: ReceivedSpan[];
    try {
      spans = toReceivedSpans(decodeTraceRequest(body, format));
    } catch (err) {
      if (err instanceof OtlpDecodeError) {
        rejectWith(400, err.message);
        return;
      }
      throw err;
    }
    record.spanCount = spans.length;
    for (const s of spans) this.#spans.push(s);
    send(200, format, encodeExportTraceResponse({}, format));
    if (spans.length > 0) this.#notify();
  }

  #answerFault(fault: FaultResponse, record: RequestRecord, res: ServerResponse): void {
    const answer = () => {
      if (res.destroyed) return;
      record.status = fault.status;
      res.writeHead(fault.status, fault.headers).end(fault.body ?? '');
    };
    if (fault.delayMs && fault.delayMs > 0) this.#later(fault.delayMs, answer);
    else answer();
  }
}

class BodyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BodyError(`request body over ${MAX_BODY_BYTES} bytes`, 413);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding !== 'gzip') throw new BodyError(`unsupported Content-Encoding ${JSON.stringify(encoding)}; accepted: gzip, identity`, 415);
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength: MAX_BODY_BYTES }, (err, out) => {
      if (err) reject(new BodyError(`invalid gzip body: ${err.message}`, 400));
      else resolve(out);
    });
  });
}

/**
 * Starts an OTLP/HTTP trace receiver on 127.0.0.1 (ephemeral port by default).
 * @example const receiver = await startReceiver(); // export to receiver.url, then await receiver.waitForSpans(2)
 */
export async function startReceiver(options: ReceiverOptions = {}): Promise<OtlpReceiver> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return new OtlpReceiver(server, `http://${urlHost}:${port}`);
}

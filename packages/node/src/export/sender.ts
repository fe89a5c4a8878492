// A sender turns a batch into one request and reports how it went. Two kinds: OTLP over HTTP (encode + POST)
// and any SpanExporter (for example @waggle/exporter-honeycomb), so both get the same queue, backoff and breaker.
import { createRequire } from 'node:module';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { defaultEncoder, rejectedSpansFrom } from './encode.js';
import { OtlpHttpTransport, type SendOutcome } from './transport.js';
import type { ExportDestination, SpanEncoder } from './types.js';
import { core } from '../otel.js';

const { ExportResultCode } = core;
// require(), not import: the ES module facades of node:util and node:zlib read every export at startup.
const require = createRequire(import.meta.url);
const { promisify } = require('node:util') as typeof import('node:util');

// zlib is loaded at the first compressed export, not at startup (about 3 ms).
let gzipPromise: ((body: Uint8Array) => Promise<Buffer>) | undefined;
function gzip(body: Uint8Array): Promise<Buffer> {
  gzipPromise ??= promisify((require('node:zlib') as typeof import('node:zlib')).gzip);
  return gzipPromise(body);
}

export interface Payload {
  /** Spans in this request. */
  count: number;
  /** The span objects, for senders that hand them to a SpanExporter; undefined for bodies built from span records. */
  spans: ReadableSpan[] | undefined;
  body: Uint8Array | undefined;
  /** Encoded (uncompressed) size, 0 when the sender does its own encoding. */
  bytes: number;
  compressed?: boolean;
  attempts: number;
}

export interface Sender {
  /**
   * True when requests are OTLP/protobuf built from span records encoded as spans end (RecordQueue); false when
   * the sender needs the span objects (a SpanExporter, OTLP/JSON, a custom encoder) and gets them from encode().
   */
  readonly encodesRecords: boolean;
  /** Where requests go, for messages: a URL without credentials or query, or the exporter's class name. */
  readonly destination: string;
  encode(spans: ReadableSpan[]): Payload;
  send(payload: Payload): Promise<SendOutcome>;
  abort(): void;
  close(): Promise<void>;
}

export class OtlpSender implements Sender {
  private readonly transport: OtlpHttpTransport;
  private readonly format: 'protobuf' | 'json';
  private readonly encoder: SpanEncoder;
  readonly encodesRecords: boolean;
  readonly destination: string;

  /** Without an encoder, OTLP/protobuf requests are built from span records and OTLP/JSON with encodeSpans. */
  constructor(
    destination: ExportDestination,
    encoder: SpanEncoder | undefined,
    private readonly compress: boolean,
  ) {
    this.format = destination.protocol === 'http/json' ? 'json' : 'protobuf';
    this.encoder = encoder ?? defaultEncoder;
    this.encodesRecords = encoder === undefined && this.format === 'protobuf';
    const shown = new URL(destination.url);
    shown.username = shown.password = shown.search = '';
    this.destination = shown.href;
    const headers = compress ? { ...destination.headers, 'content-encoding': 'gzip' } : destination.headers;
    this.transport = new OtlpHttpTransport({ ...destination, headers }, (body) => rejectedSpansFrom(body, this.format));
  }

  encode(spans: ReadableSpan[]): Payload {
    const body = this.encoder(spans, this.format);
    // The body is all a retry needs: the span objects are not kept.
    return { count: spans.length, spans: undefined, body, bytes: body.byteLength, attempts: 0 };
  }

  async send(payload: Payload): Promise<SendOutcome> {
    // Compressed once, on the first attempt; retries resend the same bytes.
    if (this.compress && !payload.compressed) {
      payload.body = await gzip(payload.body!);
      payload.compressed = true;
    }
    return this.transport.send(payload.body!, payload.count);
  }

  abort(): void {
    this.transport.abort();
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** Error fields a SpanExporter may set on a failed ExportResult to steer retries. */
interface RetryHints {
  retryable?: boolean;
  retryAfterMs?: number;
  rejectedSpans?: number;
}

export class ExporterSender implements Sender {
  constructor(
    private readonly exporter: SpanExporter,
    private readonly timeoutMs: number,
  ) {}

  readonly encodesRecords = false;
  get destination(): string {
    return this.exporter.constructor?.name || 'a SpanExporter';
  }

  encode(spans: ReadableSpan[]): Payload {
    return { count: spans.length, spans, body: undefined, bytes: 0, attempts: 0 };
  }

  send(payload: Payload): Promise<SendOutcome> {
    return new Promise<SendOutcome>((resolve) => {
      let done = false;
      const finish = (outcome: SendOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish({ kind: 'retry', reason: `exporter did not answer within ${this.timeoutMs} ms` }), this.timeoutMs);
      timer.unref();
      try {
        this.exporter.export(payload.spans!, (result) => {
          if (result.code === ExportResultCode.SUCCESS) return finish({ kind: 'ok', rejectedSpans: 0 });
          const error = (result.error ?? {}) as Error & RetryHints;
          const reason = error.message || 'export failed';
          if (error.retryable === false) return finish({ kind: 'reject', reason, rejectedSpans: error.rejectedSpans ?? payload.count });
          finish(error.retryAfterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, retryAfterMs: error.retryAfterMs });
        });
      } catch (error) {
        finish({ kind: 'retry', reason: (error as Error)?.message ?? String(error) });
      }
    });
  }

  abort(): void {}

  async close(): Promise<void> {
    await this.exporter.shutdown();
  }
}

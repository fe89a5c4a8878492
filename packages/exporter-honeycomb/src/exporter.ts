// A SpanExporter that sends spans as Honeycomb events (POST /1/batch/:dataset). libhoney builds and validates the
// events and keeps its response queue; a transmission hook hands the validated events back to this exporter, which
// sends them itself: gzip, one request at a time, a timeout, per-event statuses read, and retry hints returned
// to the caller so Waggle's export pipeline applies its queue bounds, backoff and circuit breaker.
import http from 'node:http';
import https from 'node:https';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import Libhoney, { type LibhoneyResponse, type TransmissionOptions, type ValidatedEvent } from 'libhoney';
import { spanToEvents } from './mapping.js';
import type { HoneycombEventError, HoneycombExporterOptions, HoneycombResponse } from './types.js';

const gzip = promisify(gzipCallback);
const USER_AGENT = '@waggle/exporter-honeycomb/0.1.0 libhoney-js/4.3.1';
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Export calls allowed to wait behind the one in flight; beyond it a call fails fast (retryable). */
const MAX_WAITING_EXPORTS = 2;

/** Error carried by a failed ExportResult; Waggle's pipeline reads these fields to decide on retries. */
export class HoneycombExportError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly rejectedSpans?: number,
  ) {
    super(message);
    this.name = 'HoneycombExportError';
  }
}

interface BatchOutcome {
  retry?: { reason: string; retryAfterMs: number | undefined };
  reject?: string;
  rejectedSpanIds: Set<string>;
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class HoneycombEventsExporter implements SpanExporter {
  private readonly honey: Libhoney;
  private readonly apiHost: URL;
  private readonly apiKey: string;
  private readonly dataset: string | undefined;
  private readonly timeoutMs: number;
  private readonly compression: boolean;
  private readonly onEventError: ((error: HoneycombEventError) => void) | undefined;
  private readonly agent: http.Agent;
  private captured: ValidatedEvent[] | undefined;
  private respond: (responses: LibhoneyResponse[]) => void = () => {};
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  private stopped = false;
  private current: http.ClientRequest | undefined;
  private readonly reportedErrors = new Set<string>();

  constructor(options: HoneycombExporterOptions = {}) {
    const apiKey = options.apiKey ?? process.env.HONEYCOMB_API_KEY;
    if (!apiKey) throw new TypeError('HoneycombEventsExporter needs an API key: pass { apiKey } or set HONEYCOMB_API_KEY');
    this.apiKey = apiKey;
    const host = options.apiHost ?? process.env.HONEYCOMB_API_ENDPOINT ?? 'https://api.honeycomb.io';
    try {
      this.apiHost = new URL(host);
    } catch {
      throw new TypeError(`apiHost must be an absolute http(s) URL such as https://api.honeycomb.io; got ${JSON.stringify(host)}`);
    }
    this.dataset = options.dataset ?? process.env.HONEYCOMB_DATASET;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.compression = options.compression ?? true;
    this.onEventError = options.onEventError;
    const Agent = this.apiHost.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: 1 });

    // libhoney instantiates the transmission with its own response callback; this hook keeps that callback (so
    // per-event results land in libhoney's response queue) and captures validated events instead of sending them.
    const keepResponseCallback = (callback: (responses: LibhoneyResponse[]) => void): void => {
      this.respond = callback;
    };
    const capture = (ev: ValidatedEvent): void => {
      this.captured?.push(ev);
    };
    class CaptureTransmission {
      constructor(opts: TransmissionOptions) {
        keepResponseCallback(opts.responseCallback);
      }
      sendEvent(ev: ValidatedEvent): void {
        capture(ev);
      }
      sendPresampledEvent(ev: ValidatedEvent): void {
        capture(ev);
      }
    }
    this.honey = new Libhoney({ writeKey: apiKey, apiHost: this.apiHost.href, dataset: this.dataset ?? '', transmission: CaptureTransmission, maxResponseQueueSize: 1000 });
  }

  /** Listens to libhoney's response queue: one entry per event sent, with status_code and error. */
  onResponse(listener: (responses: HoneycombResponse[]) => void): void {
    this.honey.on('response', listener);
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: ExportResultCode.FAILED, error: new HoneycombExportError('exporter is shut down', false) });
      return;
    }
    if (this.pending > MAX_WAITING_EXPORTS) {
      resultCallback({ code: ExportResultCode.FAILED, error: new HoneycombExportError('too many exports waiting', true) });
      return;
    }
    this.pending++;
    this.chain = this.chain
      .then(() => context.with(suppressTracing(context.active()), () => this.send(spans)))
      .catch((error: unknown) => ({ code: ExportResultCode.FAILED, error: new HoneycombExportError(String((error as Error)?.message ?? error), true) }) as ExportResult)
      .then((result) => {
        this.pending--;
        resultCallback(result);
      });
  }

  private async send(spans: ReadableSpan[]): Promise<ExportResult> {
    const captured: ValidatedEvent[] = [];
    this.captured = captured;
    try {
      for (const span of spans) {
        for (const event of spanToEvents(span, this.dataset)) {
          const ev = this.honey.newEvent();
          ev.add(event.data);
          ev.timestamp = event.time;
          ev.sampleRate = event.sampleRate;
          ev.dataset = event.dataset ?? 'unknown_service';
          ev.addMetadata({ spanId: event.spanId });
          ev.sendPresampled();
        }
      }
    } finally {
      this.captured = undefined;
    }
    const byDataset = new Map<string, ValidatedEvent[]>();
    for (const ev of captured) {
      const list = byDataset.get(ev.dataset);
      if (list) list.push(ev);
      else byDataset.set(ev.dataset, [ev]);
    }
    const rejected = new Set<string>();
    let reject: string | undefined;
    for (const [dataset, events] of byDataset) {
      const outcome = await this.post(dataset, events);
      if (outcome.retry) {
        return { code: ExportResultCode.FAILED, error: new HoneycombExportError(outcome.retry.reason, true, outcome.retry.retryAfterMs) };
      }
      if (outcome.reject) reject = outcome.reject;
      for (const id of outcome.rejectedSpanIds) rejected.add(id);
    }
    if (reject !== undefined || rejected.size > 0) {
      return { code: ExportResultCode.FAILED, error: new HoneycombExportError(reject ?? `${rejected.size} spans had events refused`, false, undefined, reject !== undefined ? spans.length : rejected.size) };
    }
    return { code: ExportResultCode.SUCCESS };
  }

  private async post(dataset: string, events: ValidatedEvent[]): Promise<BatchOutcome> {
    const json = Buffer.from(`[${events.map((e) => JSON.stringify(e)).join(',')}]`);
    const body = this.compression ? await gzip(json) : json;
    const url = new URL(`1/batch/${encodeURIComponent(dataset)}`, this.apiHost.href.endsWith('/') ? this.apiHost.href : `${this.apiHost.href}/`);
    const started = Date.now();
    const { status, headers, text, error } = await this.request(url, body);
    const duration = Date.now() - started;
    const rejectedSpanIds = new Set<string>();
    if (error) {
      this.respond(events.map((e) => ({ metadata: e.metadata, duration, error })));
      return { retry: { reason: error.message, retryAfterMs: undefined }, rejectedSpanIds };
    }
    if (status === 429 || status >= 500) {
      const retryAfter = headers['retry-after'];
      this.respond(events.map((e) => ({ metadata: e.metadata, status_code: status, duration, error: new Error(`HTTP ${status}`) })));
      return { retry: { reason: `HTTP ${status}`, retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter) }, rejectedSpanIds };
    }
    if (status < 200 || status >= 300) {
      const message = `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
      this.respond(events.map((e) => ({ metadata: e.metadata, status_code: status, duration, error: new Error(message) })));
      this.reportEventError({ status, message, dataset, spanId: (events[0]?.metadata as { spanId: string } | undefined)?.spanId ?? '' });
      return { reject: message, rejectedSpanIds };
    }
    let statuses: { status?: number; error?: string }[] = [];
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) statuses = parsed as typeof statuses;
    } catch {
      // A 2xx without per-event statuses: the batch was accepted.
    }
    const responses: LibhoneyResponse[] = events.map((e, i) => {
      const item = statuses[i];
      const spanId = (e.metadata as { spanId: string }).spanId;
      const itemStatus = item?.status ?? status;
      if (item && (itemStatus < 200 || itemStatus >= 300 || item.error)) {
        rejectedSpanIds.add(spanId);
        const message = item.error ?? `status ${itemStatus}`;
        this.reportEventError({ status: itemStatus, message, dataset, spanId });
        return { metadata: e.metadata, status_code: itemStatus, duration, error: new Error(message) };
      }
      return { metadata: e.metadata, status_code: itemStatus, duration };
    });
    this.respond(responses);
    return { rejectedSpanIds };
  }

  private reportEventError(error: HoneycombEventError): void {
    try {
      this.onEventError?.(error);
    } catch {
      // a throwing callback must not break export
    }
    const key = `${error.status}:${error.message}`;
    if (this.reportedErrors.has(key) || this.reportedErrors.size > 100) return;
    this.reportedErrors.add(key);
    try {
      process.stderr.write(`waggle: WAGGLE_HONEYCOMB_EVENT_REJECTED dataset ${JSON.stringify(error.dataset)} refused an event (status ${error.status}): ${error.message}\n`);
    } catch {
      // stderr closed
    }
  }

  private request(url: URL, body: Buffer): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string; error?: Error }> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (value: { status: number; headers: http.IncomingHttpHeaders; text: string; error?: Error }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.current = undefined;
        resolve(value);
      };
      const lib = url.protocol === 'https:' ? https : http;
      const headers: Record<string, string> = {
        'x-honeycomb-team': this.apiKey,
        'content-type': 'application/json',
        'user-agent': USER_AGENT,
        'content-length': String(body.length),
      };
      if (this.compression) headers['content-encoding'] = 'gzip';
      const req = lib.request(url, { method: 'POST', agent: this.agent, headers });
      this.current = req;
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      timer.unref();
      req.on('error', (error) => finish({ status: 0, headers: {}, text: '', error }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
        });
        res.on('error', (error) => finish({ status: 0, headers: {}, text: '', error }));
        res.on('end', () => finish({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.end(body);
    });
  }

  async forceFlush(): Promise<void> {
    await this.chain;
  }

  /** Stops accepting spans and abandons the request in flight, so a hung backend cannot hold the process open. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.current?.destroy(new Error('exporter shut down'));
    this.agent.destroy();
    await this.chain;
  }
}

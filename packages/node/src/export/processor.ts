// The export pipeline's span processor. onEnd prepares the span (limits, redaction, tail sampling, presend) and
// queues it in compact form: for OTLP/protobuf an encoded record (so the span object dies young and the queue's
// memory is its real byte size), otherwise the prepared span. Requests are built and sent later on a timer or
// when a batch is full, one request in flight at a time.
import type { Context } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { reportOnce } from '../diagnostics.js';
import { LossCounter } from './loss.js';
import { createPreparer, type PreparedSpan } from './prepare.js';
import { estimateSpanBytes, SpanQueue } from './queue.js';
import { RecordQueue, type PushResult } from './records.js';
import { createRedactor } from './redact.js';
import { CircuitBreaker, fullJitterDelay, resolveBackoff, type ResolvedBackoff } from './retry.js';
import type { Payload, Sender } from './sender.js';
import type { ExportPipelineOptions } from './types.js';
import { api } from '../otel.js';

const { SpanStatusCode, TraceFlags } = api;

interface Waiter {
  target: number;
  resolve: () => void;
}

/** Counters for tests, benchmarks and debugging; not a stable API. */
export interface PipelineStats {
  queuedSpans: number;
  queuedBytes: number;
  attempts: number;
  sentSpans: number;
  breaker: string;
  dropped: Record<string, number>;
}

export class WaggleExportProcessor implements SpanProcessor {
  /** OTLP/protobuf destinations: encoded span records. */
  private readonly records: RecordQueue | undefined;
  /** Destinations that need span objects (a SpanExporter, OTLP/JSON, a custom encoder): prepared spans. */
  private readonly objects: SpanQueue | undefined;
  private readonly maxQueueSpans: number;
  private readonly maxBatchSpans: number;
  private readonly maxBatchBytes: number;
  private readonly delayMs: number;
  private readonly flushTimeoutMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly backoff: ResolvedBackoff;
  private readonly breaker: CircuitBreaker;
  private readonly prepare: (span: ReadableSpan, runPresend?: boolean) => PreparedSpan;
  /** Set while a span is prepared: a span ending inside presend is not handed to presend again. */
  private preparing = false;
  private readonly keepErrors: boolean;
  private readonly slowNs: number | undefined;
  readonly loss: LossCounter;
  /** Built once: onEnd must not allocate even when it drops. */
  private readonly queueFullDetail: string;

  private payloads: Payload[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private retryAt = 0;
  private consecutiveFailures = 0;
  /** Why the last send failed, for batches the process leaves behind between retries. */
  private lastFailure: string | undefined;
  private enqueued = 0;
  private settled = 0;
  private attempts = 0;
  private sent = 0;
  private flushing = 0;
  private closed = false;
  private shutdownPromise: Promise<void> | undefined;
  private waiters: Waiter[] = [];
  private resource: Resource | undefined;
  private readonly lossTimer: NodeJS.Timeout;

  constructor(
    private readonly sender: Sender,
    options: Omit<ExportPipelineOptions, 'destination'> = {},
  ) {
    const tuning = options.tuning ?? {};
    this.loss = new LossCounter(sender.destination);
    const maxQueueSpans = Math.max(1, tuning.maxQueueSpans ?? 8192);
    this.maxQueueSpans = maxQueueSpans;
    const maxQueueBytes = Math.max(1024, tuning.maxQueueBytes ?? 8 * 1024 * 1024);
    this.maxBatchSpans = Math.max(1, tuning.maxBatchSpans ?? 512);
    this.maxBatchBytes = Math.max(1024, tuning.maxBatchBytes ?? 4 * 1024 * 1024);
    if (sender.encodesRecords) this.records = new RecordQueue(maxQueueSpans, maxQueueBytes, this.maxBatchBytes);
    else this.objects = new SpanQueue(maxQueueSpans, maxQueueBytes);
    this.queueFullDetail = `queue holds ${maxQueueSpans} spans or ${maxQueueBytes} bytes at most`;
    this.delayMs = Math.max(0, tuning.scheduledDelayMs ?? 1000);
    this.flushTimeoutMs = tuning.flushTimeoutMs ?? 10_000;
    this.shutdownTimeoutMs = tuning.shutdownTimeoutMs ?? 5000;
    this.backoff = resolveBackoff(options.backoff);
    this.breaker = new CircuitBreaker(options.breaker);
    this.prepare = createPreparer({ limits: options.limits, redact: createRedactor(options.redaction), presend: options.presend, sampling: options.sampling });
    this.keepErrors = options.sampling?.keepErrors === true;
    const slowMs = options.sampling?.keepSlowerThanMs;
    this.slowNs = slowMs === undefined ? undefined : slowMs * 1e6;
    this.lossTimer = setInterval(() => this.reportLoss(), options.selfTelemetry?.intervalMs ?? 60_000);
    this.lossTimer.unref();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.closed) return;
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0 && !this.keepsUnsampled(span)) return;
    this.resource ??= span.resource;
    this.enqueue(span);
  }

  /** Tail policy for spans of traces the sampler did not keep (recorded only when the policy is on). */
  private keepsUnsampled(span: ReadableSpan): boolean {
    if (this.keepErrors && span.status.code === SpanStatusCode.ERROR) return true;
    return this.slowNs !== undefined && span.duration[0] * 1e9 + span.duration[1] >= this.slowNs;
  }

  private get queuedSpans(): number {
    return this.records ? this.records.length : this.objects!.length;
  }

  private get queuedBytes(): number {
    return this.records ? this.records.bytes : this.objects!.bytes;
  }

  private enqueue(span: ReadableSpan, countLoss = true): void {
    // A full queue drops the span before any work is spent on it.
    if (this.queuedSpans >= this.maxQueueSpans) {
      this.countFull(countLoss);
      return;
    }
    const nested = this.preparing;
    let prepared: PreparedSpan;
    let result: PushResult;
    this.preparing = true;
    try {
      prepared = this.prepare(span, !nested);
      if (prepared === null) return;
      if (this.records) result = this.records.push(prepared);
      else result = this.objects!.push(prepared, estimateSpanBytes(prepared)) ? 'queued' : 'full';
    } catch (error) {
      // Never export a span that did not go through redaction; a span that cannot be encoded is not sent either.
      const message = (error as Error)?.message ?? String(error);
      reportOnce('export-prepare', 'WAGGLE_EXPORT_INTERNAL', `a span could not be prepared for export and was dropped: ${message}`);
      this.loss.add('rejected', 1, `could not be prepared: ${message}`);
      return;
    } finally {
      if (!nested) this.preparing = false;
    }
    if (result === 'too_large') {
      this.loss.add('too_large', 1, `a span encodes to ${this.records!.lastRecordBytes} bytes, above ${this.maxBatchBytes}`);
      return;
    }
    if (result === 'full') {
      this.countFull(countLoss);
      return;
    }
    this.enqueued++;
    if (this.queuedSpans >= this.maxBatchSpans || this.queuedBytes >= this.maxBatchBytes) this.schedule(0);
    // Common case: a wake-up is already pending (or the loop is running), nothing to do; no clock read.
    else if (this.timer === undefined && !this.running) this.schedule(this.delayMs);
  }

  private countFull(countLoss: boolean): void {
    // A loss report that does not fit is not itself reported, or a full queue would report forever.
    if (!countLoss) return;
    // With the breaker open the queue is full because the backend is down; say so rather than blame the bound.
    if (this.breaker.state === 'closed') this.loss.add('queue_full', 1, this.queueFullDetail);
    else this.loss.add('backend_unavailable', 1, 'queue full while the circuit breaker is open');
  }

  /** Runs the send loop after `ms` (or later, when backoff or the breaker says so); keeps the earlier of two wakes. */
  private schedule(ms: number): void {
    if (this.running) return;
    const at = Math.max(Date.now() + ms, this.retryAt, Date.now() + this.breaker.waitMs());
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // Armed from the root context: a span's end inside a request would otherwise keep that request's context alive
    // until the timer fires, and run the export in it.
    this.timer = api.context.with(api.ROOT_CONTEXT, () =>
      setTimeout(() => {
        this.timer = undefined;
        void this.run();
      }, Math.max(0, at - Date.now())),
    );
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        if (this.payloads.length === 0) {
          if (this.queuedSpans === 0) break;
          this.payloads = this.build();
          continue;
        }
        const now = Date.now();
        const wait = Math.max(this.breaker.waitMs(now), this.retryAt - now);
        if (wait > 0) break;
        await this.attempt(this.payloads[0]!);
        // Under light load wait for the next timer instead of sending many tiny batches back to back.
        if (this.payloads.length === 0 && this.queuedSpans < this.maxBatchSpans && this.flushing === 0 && !this.closed) break;
      }
    } catch (error) {
      reportOnce('export-loop', 'WAGGLE_EXPORT_INTERNAL', `export loop failed: ${(error as Error)?.message ?? error}`);
    } finally {
      this.running = false;
    }
    if (this.payloads.length > 0 || this.queuedSpans > 0) {
      this.schedule(this.flushing > 0 || this.queuedSpans >= this.maxBatchSpans || this.payloads.length > 0 ? 0 : this.delayMs);
    }
  }

  /** The next request(s) from the front of the queue: one record-built body, or encoded spans split above maxBatchBytes. */
  private build(): Payload[] {
    if (this.records) {
      const taken = this.records.take(this.maxBatchSpans, this.maxBatchBytes);
      return taken ? [{ count: taken.spans, spans: undefined, body: taken.body, bytes: taken.body.byteLength, attempts: 0 }] : [];
    }
    const payloads: Payload[] = [];
    this.encodeInto(this.objects!.take(this.maxBatchSpans, this.maxBatchBytes), payloads);
    return payloads;
  }

  private encodeInto(spans: ReadableSpan[], out: Payload[]): void {
    if (spans.length === 0) return;
    let payload: Payload | undefined;
    let failure: string | undefined;
    try {
      payload = this.sender.encode(spans);
    } catch (error) {
      failure = (error as Error)?.message ?? String(error);
    }
    if (payload && payload.bytes <= this.maxBatchBytes) {
      out.push(payload);
      return;
    }
    if (spans.length === 1) {
      if (failure) this.loss.add('rejected', 1, `encoding failed: ${failure}`);
      else this.loss.add('too_large', 1, `a span encodes to ${payload!.bytes} bytes, above ${this.maxBatchBytes}`);
      this.settle(1);
      return;
    }
    const half = Math.ceil(spans.length / 2);
    this.encodeInto(spans.slice(0, half), out);
    this.encodeInto(spans.slice(half), out);
  }

  private async attempt(payload: Payload): Promise<void> {
    this.attempts++;
    payload.attempts++;
    const outcome = await this.sender.send(payload);
    // Shutdown gave up on this payload while it was in flight and already counted it.
    if (this.payloads[0] !== payload) return;
    const count = payload.count;
    if (outcome.kind === 'ok' || outcome.kind === 'reject') {
      // The backend answered: it is up, whatever it thought of this batch.
      this.breaker.success();
      this.consecutiveFailures = 0;
      this.retryAt = 0;
      this.payloads.shift();
      if (outcome.kind === 'ok') {
        this.sent += count - outcome.rejectedSpans;
        this.loss.add('rejected', Math.min(count, outcome.rejectedSpans), 'partial success from the backend');
      } else {
        const rejected = Math.min(count, outcome.rejectedSpans ?? count);
        this.sent += count - rejected;
        this.loss.add('rejected', rejected, outcome.reason);
      }
      this.settle(count);
      return;
    }
    this.consecutiveFailures++;
    this.lastFailure = outcome.reason;
    const now = Date.now();
    const opened = this.breaker.failure(now);
    if (outcome.retryAfterMs !== undefined) {
      // The backend said when to come back: that wins over both backoff and breaker timing.
      this.retryAt = now + Math.min(outcome.retryAfterMs, this.backoff.maxRetryAfterMs);
    } else if (opened) {
      // An open breaker paces the probes itself (openMs doubling up to maxOpenMs); stacking backoff on top would
      // delay the return after recovery beyond maxOpenMs.
      this.retryAt = 0;
    } else {
      this.retryAt = now + fullJitterDelay(this.consecutiveFailures - 1, this.backoff.initialMs, this.backoff.maxMs);
    }
    if (opened || payload.attempts >= this.backoff.maxAttempts || this.closed) {
      this.payloads.shift();
      this.loss.add('backend_unavailable', count, outcome.reason);
      this.settle(count);
    }
  }

  private settle(count: number): void {
    this.settled += count;
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (this.settled < w.target) return true;
      w.resolve();
      return false;
    });
  }

  private reportLoss(): void {
    this.loss.flushLog();
    // The loss span goes out once exports succeed again; sent into a failing destination it would be lost too.
    if (this.closed || this.breaker.state !== 'closed' || this.consecutiveFailures > 0) return;
    const span = this.loss.takeSpan(this.resource);
    if (span) this.enqueue(span, false);
  }

  /**
   * The process is ending (a signal Waggle re-raises, or 'exit'): spans still queued or in flight will never be
   * sent. Counts them and writes the loss line now, synchronously, since no timer runs again. Without this an app
   * stopped within the 60 s report interval never said what it lost. `detail` says why, unless a send error does.
   */
  reportUndelivered(detail: string): void {
    const left = this.queuedSpans + this.payloads.reduce((n, p) => n + p.count, 0);
    this.discardQueued();
    // A batch still between retries has failed already: its send error says more than the deadline does.
    const reason = this.loss.detail('backend_unavailable') ?? (this.consecutiveFailures > 0 ? this.lastFailure : undefined);
    this.loss.add('backend_unavailable', left, reason ?? detail);
    this.loss.flushLog();
  }

  private discardQueued(): void {
    if (this.records) this.records.clear();
    else this.objects!.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.payloads = [];
  }

  /** Sends everything queued before the call; resolves by the deadline whatever the backend does. */
  forceFlush(): Promise<void> {
    return this.flushWithin(this.flushTimeoutMs);
  }

  private async flushWithin(timeoutMs: number): Promise<void> {
    const target = this.enqueued;
    if (this.settled >= target) return;
    this.flushing++;
    let timeout: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.waiters.push({ target, resolve });
        timeout = setTimeout(resolve, timeoutMs);
        timeout.unref();
        this.schedule(0);
      });
    } finally {
      clearTimeout(timeout);
      this.flushing--;
    }
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.reportLoss();
    this.closed = true;
    clearInterval(this.lossTimer);
    await this.flushWithin(this.shutdownTimeoutMs);
    if (this.timer) clearTimeout(this.timer);
    const left = this.queuedSpans + this.payloads.reduce((n, p) => n + p.count, 0);
    this.discardQueued();
    this.sender.abort();
    this.loss.add('backend_unavailable', left, 'not delivered before the shutdown deadline');
    this.loss.flushLog();
    // A wrapped exporter may wait on its own request; shutdown does not wait past a short grace period for it.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      this.sender.close().catch(() => {}),
      new Promise<void>((resolve) => {
        grace = setTimeout(resolve, 500);
        grace.unref();
      }),
    ]);
    clearTimeout(grace);
  }

  stats(): PipelineStats {
    return {
      queuedSpans: this.queuedSpans,
      queuedBytes: this.queuedBytes,
      attempts: this.attempts,
      sentSpans: this.sent,
      breaker: this.breaker.state,
      dropped: { ...this.loss.total },
    };
  }
}

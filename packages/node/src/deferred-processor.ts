// The export pipeline is created asynchronously (it loads the exporter lazily), but the register entry must
// stay synchronous. This processor stands in until the pipeline is ready, holding a bounded number of spans.
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { report, reportOnce } from './diagnostics.js';

const MAX_PENDING_SPANS = 4096;

export class DeferredSpanProcessor implements SpanProcessor {
  private target: SpanProcessor | undefined;
  private pending: ReadableSpan[] = [];
  private readonly ready: Promise<void>;
  /** Spans handed to the pipeline so far; lets beforeExit tell whether a flush has anything to do. */
  endedCount = 0;

  constructor(create: Promise<SpanProcessor>) {
    this.ready = create.then(
      (target) => {
        this.target = target;
        const pending = this.pending;
        this.pending = [];
        for (const span of pending) target.onEnd(span);
      },
      (error: unknown) => {
        this.pending = [];
        report('WAGGLE_EXPORT_UNAVAILABLE', `the export pipeline could not start (${error instanceof Error ? error.message : String(error)}); spans are not sent`);
      },
    );
  }

  onStart(span: Span, parentContext: Context): void {
    this.target?.onStart(span, parentContext);
  }

  onEnding(span: Span): void {
    this.target?.onEnding?.(span);
  }

  onEnd(span: ReadableSpan): void {
    this.endedCount++;
    if (this.target !== undefined) {
      this.target.onEnd(span);
      return;
    }
    if (this.pending.length < MAX_PENDING_SPANS) this.pending.push(span);
    else reportOnce('deferred-full', 'WAGGLE_EXPORT_DROPPED', `more than ${MAX_PENDING_SPANS} spans ended before the exporter was ready; the excess was dropped`);
  }

  /** At process end: the pipeline reports what it could not send (spans still held here were never handed to it). */
  reportUndelivered(detail: string): void {
    const target = this.target as (SpanProcessor & { reportUndelivered?(detail: string): void }) | undefined;
    target?.reportUndelivered?.(detail);
  }

  async forceFlush(): Promise<void> {
    await this.ready;
    await this.target?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.ready;
    await this.target?.shutdown();
  }
}

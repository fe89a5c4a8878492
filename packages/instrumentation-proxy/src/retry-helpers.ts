/**
 * Attempt spans for generic retry helpers (p-retry, async-retry): each call of the user's function
 * is one INTERNAL span under the span that was active when the retry loop started.
 */
import { context, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import {
  ATTR_WAGGLE_RETRY_ATTEMPT,
  ATTR_WAGGLE_RETRY_DELAY_MS,
  ATTR_WAGGLE_RETRY_LIBRARY,
  ATTR_WAGGLE_RETRY_REASON,
} from './semconv.js';
import { errorCode } from './utils.js';

/** The attempts of one retry loop. */
export class RetrySequence {
  private lastEndMs: number | undefined;
  private lastReason: string | undefined;

  constructor(
    private readonly tracer: Tracer,
    private readonly library: 'p-retry' | 'async-retry',
    private readonly parent: Context,
  ) {}

  /** Runs one attempt (`attemptNumber` is 1-based) inside its span and ends the span when it settles. */
  run<T>(attemptNumber: number, attempt: () => T): T {
    const span = this.tracer.startSpan(
      `${this.library} attempt`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { [ATTR_WAGGLE_RETRY_LIBRARY]: this.library, [ATTR_WAGGLE_RETRY_ATTEMPT]: attemptNumber },
      },
      this.parent,
    );
    if (attemptNumber > 1) {
      if (this.lastReason !== undefined) span.setAttribute(ATTR_WAGGLE_RETRY_REASON, this.lastReason);
      if (this.lastEndMs !== undefined) {
        span.setAttribute(ATTR_WAGGLE_RETRY_DELAY_MS, Math.max(0, Math.round(performance.now() - this.lastEndMs)));
      }
    }
    const finish = (error?: unknown): void => {
      this.lastEndMs = performance.now();
      if (error !== undefined) {
        this.lastReason = errorCode(error);
        span.setAttribute(ATTR_ERROR_TYPE, this.lastReason);
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: this.lastReason });
      }
      span.end();
    };
    let result: T;
    try {
      result = context.with(trace.setSpan(this.parent, span), attempt);
    } catch (error) {
      finish(error);
      throw error;
    }
    if (isThenable(result)) {
      return result.then(
        (value) => {
          finish();
          return value;
        },
        (error: unknown) => {
          finish(error ?? new Error('rejected'));
          throw error;
        },
      ) as T;
    }
    finish();
    return result;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

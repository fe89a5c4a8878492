// withSpan(): one span around a function, ended on every path, errors recorded the same way everywhere.
import { SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { WithSpanOptions } from './types.js';

const TRACER_NAME = '@waggle/api';

// Looked up per call (cheap: a map read in the API) so spans use whichever provider is registered now.
function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Runs `fn` inside a new active span and ends it when `fn` returns or its promise settles.
 * A throw or rejection sets status ERROR, records the exception and `error.type`, and is rethrown.
 * Example: `await withSpan('charge card', async (span) => pay(order), { attributes: { 'order.id': id } })`.
 */
export function withSpan<T>(name: string, fn: (span: Span) => T, options: WithSpanOptions = {}): T {
  return tracer().startActiveSpan(name, { attributes: options.attributes, kind: options.kind }, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (error) {
      recordError(span, error);
      span.end();
      throw error;
    }
    if (isThenable(result)) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (error: unknown) => {
          recordError(span, error);
          span.end();
          throw error;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

/** Marks a span as failed the same way instrumentations do: status, exception event, `error.type`. */
export function recordError(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute('error.type', errorType(error));
  if (error instanceof Error) span.recordException(error);
  else span.recordException({ name: 'Error', message });
}

function errorType(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    return error.name || error.constructor.name || 'Error';
  }
  return '_OTHER';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

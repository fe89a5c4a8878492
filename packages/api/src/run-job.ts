import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Link,
  type Span,
} from '@opentelemetry/api';

/** Options for {@link runJob}. */
export interface RunJobOptions {
  /** Spans this job relates to (the request that scheduled it, the messages it handles). */
  links?: Link[];
  /** Attributes set on the job span when it starts. */
  attributes?: Attributes;
  /** `'consumer'` (default) for work driven by a message or schedule, `'internal'` for housekeeping loops. */
  kind?: 'consumer' | 'internal';
}

const TRACER_NAME = '@waggle/api';
const NAME_ERROR = 'WAGGLE_API_INVALID_ARGUMENT: runJob(name, fn) needs a non-empty string name';
const FN_ERROR = 'WAGGLE_API_INVALID_ARGUMENT: runJob(name, fn) needs fn to be a function';

/**
 * Runs `fn` inside a new root span (a new trace, so a long-lived loop's iterations are not all
 * children of whatever started the loop), linked to `links`.
 * The span records an exception, `error.type` and error status when `fn` throws or rejects, and
 * always ends. Without a registered SDK the span is a no-op and `fn` simply runs.
 *
 * @example
 * setInterval(() => runJob('sweep-expired-sessions', () => sweep()), 60_000);
 */
export function runJob<T>(name: string, fn: (span: Span) => T, options: RunJobOptions = {}): T {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(NAME_ERROR);
  if (typeof fn !== 'function') throw new TypeError(FN_ERROR);
  const opts = options ?? {};
  const tracer = trace.getTracer(TRACER_NAME);
  // A root context, but keeping baggage and other non-span entries of the caller would leak the
  // caller's request into every iteration; a job is its own unit of work.
  const span = tracer.startSpan(
    name,
    {
      root: true,
      kind: opts.kind === 'internal' ? SpanKind.INTERNAL : SpanKind.CONSUMER,
      links: opts.links ?? [],
      attributes: opts.attributes ?? {},
    },
    ROOT_CONTEXT,
  );
  const ctx = trace.setSpan(ROOT_CONTEXT, span);
  let result: T;
  try {
    result = context.with(ctx, fn, undefined, span);
  } catch (err) {
    recordFailure(span, err);
    span.end();
    throw err;
  }
  if (isPromiseLike(result)) {
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        recordFailure(span, err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function recordFailure(span: Span, err: unknown): void {
  const isError = err instanceof Error;
  span.setAttribute('error.type', isError ? err.name || err.constructor.name : '_OTHER');
  if (isError) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: isError ? err.message : String(err) });
}

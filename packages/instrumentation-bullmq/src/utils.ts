import {
  propagation,
  ROOT_CONTEXT,
  SpanStatusCode,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FlowJobLike, JobLike, JobOptsLike, WorkerLike } from './internal-types.js';
import {
  ATTR_BULLMQ_JOB_ATTEMPTS_STARTED,
  ATTR_BULLMQ_JOB_BACKOFF_TYPE,
  ATTR_BULLMQ_JOB_NAME,
  ATTR_BULLMQ_JOB_PARENT_ID,
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_WAGGLE_JOB_ATTEMPT,
  ATTR_WAGGLE_JOB_DELAY_MS,
  ATTR_WAGGLE_JOB_MAX_ATTEMPTS,
  ATTR_WAGGLE_JOB_STALLED_COUNT,
  ATTR_WAGGLE_QUEUE_WAIT_MS,
  ATTR_WAGGLE_WORKER_CONCURRENCY,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_SYSTEM_VALUE_BULLMQ,
} from './semconv.js';

/**
 * Returns `opts` with the trace context of `ctx` stored in `opts.telemetry.metadata`, the field
 * bullmq itself uses for trace propagation: it is persisted with the job (`tm` in the job hash),
 * survives retries and stalls, and leaves the job's `data` untouched. `opts` is copied, never
 * mutated; it is returned as is when there is nothing to store or the caller opted out.
 */
export function optsWithCarrier(opts: JobOptsLike | undefined, ctx: Context): JobOptsLike | undefined {
  if (opts?.telemetry?.omitContext || opts?.telemetry?.metadata) return opts;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (Object.keys(carrier).length === 0) return opts;
  return { ...opts, telemetry: { ...opts?.telemetry, metadata: JSON.stringify(carrier) } };
}

/** Copies a flow tree's nodes (not their data) so each node carries the trace context. */
export function flowWithCarrier(node: FlowJobLike, ctx: Context): FlowJobLike {
  const copy: FlowJobLike = { ...node, opts: optsWithCarrier(node.opts, ctx) };
  if (Array.isArray(node.children)) copy.children = node.children.map((child) => flowWithCarrier(child, ctx));
  return copy;
}

export function countFlowNodes(node: FlowJobLike): number {
  let n = 1;
  if (Array.isArray(node.children)) for (const child of node.children) n += countFlowNodes(child);
  return n;
}

/** The producer's context stored on a job, or undefined when absent or unreadable. */
export function extractProducerContext(job: JobLike): Context | undefined {
  const metadata = job.opts?.telemetry?.metadata;
  if (typeof metadata !== 'string' || metadata.length === 0) return undefined;
  let carrier: unknown;
  try {
    carrier = JSON.parse(metadata);
  } catch {
    return undefined;
  }
  if (carrier === null || typeof carrier !== 'object') return undefined;
  return propagation.extract(ROOT_CONTEXT, carrier as Record<string, string>);
}

export function producerAttributes(queueName: string, operationName: string): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_BULLMQ,
    [ATTR_MESSAGING_DESTINATION_NAME]: queueName,
    [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
    [ATTR_MESSAGING_OPERATION_NAME]: operationName,
  };
}

export function processAttributes(worker: WorkerLike, job: JobLike): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_BULLMQ,
    [ATTR_MESSAGING_DESTINATION_NAME]: job.queueName ?? worker.name,
    [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
    [ATTR_MESSAGING_OPERATION_NAME]: 'process',
    [ATTR_BULLMQ_JOB_NAME]: job.name,
    [ATTR_WAGGLE_JOB_ATTEMPT]: (job.attemptsMade ?? 0) + 1,
    [ATTR_WAGGLE_JOB_MAX_ATTEMPTS]: maxAttempts(job),
  };
  if (job.id !== undefined) attributes[ATTR_MESSAGING_MESSAGE_ID] = String(job.id);
  if (typeof job.attemptsStarted === 'number') attributes[ATTR_BULLMQ_JOB_ATTEMPTS_STARTED] = job.attemptsStarted;
  if (job.stalledCounter) attributes[ATTR_WAGGLE_JOB_STALLED_COUNT] = job.stalledCounter;
  const concurrency = worker.concurrency ?? worker.opts?.concurrency;
  if (typeof concurrency === 'number') attributes[ATTR_WAGGLE_WORKER_CONCURRENCY] = concurrency;
  if (typeof job.timestamp === 'number') {
    // processedOn is stamped by Redis when this attempt moved the job to active.
    const startedAt = typeof job.processedOn === 'number' ? job.processedOn : Date.now();
    attributes[ATTR_WAGGLE_QUEUE_WAIT_MS] = Math.max(0, startedAt - job.timestamp);
  }
  const delay = job.opts?.delay;
  if (typeof delay === 'number' && delay > 0) attributes[ATTR_WAGGLE_JOB_DELAY_MS] = delay;
  const backoff = job.opts?.backoff;
  if (typeof backoff === 'number') attributes[ATTR_BULLMQ_JOB_BACKOFF_TYPE] = 'fixed';
  else if (backoff && typeof backoff.type === 'string') attributes[ATTR_BULLMQ_JOB_BACKOFF_TYPE] = backoff.type;
  if (job.parentKey) attributes[ATTR_BULLMQ_JOB_PARENT_ID] = job.parentKey;
  return attributes;
}

export function recordError(span: Span, err: unknown): void {
  const isError = err instanceof Error;
  span.setAttribute(ATTR_ERROR_TYPE, isError ? err.name || err.constructor.name : '_OTHER');
  if (isError) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: isError ? err.message : String(err) });
}

/** bullmq reports a lost lock as "Missing lock for job …" or "Lock mismatch for job …". */
export function isLockError(err: unknown): boolean {
  return err instanceof Error && /\block\b/i.test(err.message);
}

export function isUnrecoverable(err: unknown): boolean {
  return err instanceof Error && err.name === 'UnrecoverableError';
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}


/** bullmq stores `attempts: 0` when the option was not given; either way the job runs once. */
export function maxAttempts(job: JobLike): number {
  const attempts = job.opts?.attempts;
  return typeof attempts === 'number' && attempts > 1 ? attempts : 1;
}

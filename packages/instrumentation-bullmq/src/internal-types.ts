import type { Span } from '@opentelemetry/api';

/*
 * The shapes of the bullmq objects this instrumentation reads, kept structural so one build
 * serves bullmq 5 and 6 without importing either at runtime.
 */

export interface BackoffOptionsLike {
  type?: string;
  delay?: number;
}

export interface JobOptsLike {
  attempts?: number;
  delay?: number;
  backoff?: number | BackoffOptionsLike;
  telemetry?: { metadata?: string; omitContext?: boolean };
  [key: string]: unknown;
}

export interface JobLike {
  id?: string;
  name: string;
  queueName: string;
  opts: JobOptsLike;
  timestamp: number;
  processedOn?: number;
  finishedOn?: number;
  attemptsMade: number;
  attemptsStarted?: number;
  stalledCounter?: number;
  delay?: number;
  parentKey?: string;
  discarded?: boolean;
}

export interface QueueLike {
  name: string;
}

export interface WorkerLike {
  name: string;
  concurrency?: number;
  opts: { concurrency?: number };
}

export interface BulkJobLike {
  name: string;
  data: unknown;
  opts?: JobOptsLike;
}

export interface FlowJobLike {
  name: string;
  queueName: string;
  data?: unknown;
  opts?: JobOptsLike;
  children?: FlowJobLike[];
  [key: string]: unknown;
}

export interface ClassLike {
  prototype: Record<string, unknown>;
}

export interface BullMQModuleLike {
  Queue?: ClassLike;
  Worker?: ClassLike;
  Job?: ClassLike;
  FlowProducer?: ClassLike;
  QueueEvents?: ClassLike;
}

/** What the instrumentation remembers about a job between processJob and its settlement. */
export interface JobRun {
  span: Span;
  outcome?: string;
  processorError?: unknown;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;

import { context, ROOT_CONTEXT, SpanKind, trace, type Context, type Link, type Span } from '@opentelemetry/api';
import { suppressTracing, unsuppressTracing } from '@opentelemetry/core';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  isWrapped,
} from '@opentelemetry/instrumentation';
import type { BullMQInstrumentationConfig } from './types.js';
import type {
  AnyFunction,
  BulkJobLike,
  BullMQModuleLike,
  ClassLike,
  FlowJobLike,
  JobLike,
  JobOptsLike,
  JobRun,
  QueueLike,
  WorkerLike,
} from './internal-types.js';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_WAGGLE_JOB_ATTEMPT,
  ATTR_WAGGLE_JOB_OUTCOME,
  ATTR_WAGGLE_JOB_RETRY_DELAY_MS,
  ATTR_WAGGLE_JOB_STALLED_COUNT,
  EVENT_LOCK_LOST,
  EVENT_STALLED,
  OUTCOME_COMPLETED,
  OUTCOME_DISCARDED,
  OUTCOME_FAILED,
  OUTCOME_WILL_RETRY,
} from './semconv.js';
import {
  countFlowNodes,
  extractProducerContext,
  flowWithCarrier,
  isLockError,
  isPromiseLike,
  isUnrecoverable,
  maxAttempts,
  optsWithCarrier,
  processAttributes,
  producerAttributes,
  recordError,
} from './utils.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** The methods patched, per exported class; unpatch walks the same table. */
const PATCHED = {
  Queue: ['add', 'addBulk'],
  FlowProducer: ['add', 'addBulk'],
  Worker: ['run', 'processJob', 'callProcessJob', 'emit'],
  QueueEvents: ['run'],
  Job: ['moveToCompleted', 'moveToFailed'],
} as const;

/**
 * Traces bullmq producers (`Queue.add`, `Queue.addBulk`, `FlowProducer.add`, `FlowProducer.addBulk`)
 * and workers (one CONSUMER span per processed job attempt), carrying the producer's context in
 * the job's `opts.telemetry.metadata`.
 */
export class BullMQInstrumentation extends InstrumentationBase<BullMQInstrumentationConfig> {
  /** In-flight job runs, keyed by the Job object the worker passes from processJob to settlement. */
  private readonly _runs = new WeakMap<object, JobRun>();
  /** In-flight job runs per worker by job id, for worker events that name only ids. */
  private readonly _runsByWorker = new WeakMap<object, Map<string, JobRun>>();

  constructor(config: BullMQInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    // the base constructor stores config without setConfig; validate it the same way
    this.setConfig(config);
  }

  override setConfig(config: BullMQInstrumentationConfig = {}): void {
    const { consumerContext } = config ?? {};
    if (consumerContext != null && consumerContext !== 'link' && consumerContext !== 'parent') {
      // A bad option must not stop the app: say what is accepted and fall back to the default.
      this._diag?.warn(
        `WAGGLE_CONFIG_INVALID: consumerContext must be 'link' or 'parent', got ${JSON.stringify(consumerContext)}; using 'link'`,
      );
      config = { ...config, consumerContext: 'link' };
    }
    super.setConfig(config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'bullmq',
        ['>=5.0.0 <7'],
        (moduleExports: BullMQModuleLike) => {
          this._patchModule(moduleExports);
          return moduleExports;
        },
        (moduleExports: BullMQModuleLike) => {
          if (moduleExports) this._unpatchModule(moduleExports);
        },
      ),
    ];
  }

  private _patchModule(moduleExports: BullMQModuleLike): void {
    this._patchClass(moduleExports.Queue, 'add', (o) => this._patchQueueAdd(o, this));
    this._patchClass(moduleExports.Queue, 'addBulk', (o) => this._patchQueueAddBulk(o, this));
    this._patchClass(moduleExports.FlowProducer, 'add', (o) => this._patchFlowAdd(o, this));
    this._patchClass(moduleExports.FlowProducer, 'addBulk', (o) => this._patchFlowAddBulk(o, this));
    this._patchClass(moduleExports.Worker, 'run', (o) => this._patchBackgroundRun(o, this));
    this._patchClass(moduleExports.QueueEvents, 'run', (o) => this._patchBackgroundRun(o, this));
    this._patchClass(moduleExports.Worker, 'processJob', (o) => this._patchProcessJob(o, this));
    this._patchClass(moduleExports.Worker, 'callProcessJob', (o) => this._patchCallProcessJob(o, this));
    this._patchClass(moduleExports.Worker, 'emit', (o) => this._patchWorkerEmit(o, this));
    this._patchClass(moduleExports.Job, 'moveToCompleted', (o) => this._patchMoveToCompleted(o, this));
    this._patchClass(moduleExports.Job, 'moveToFailed', (o) => this._patchMoveToFailed(o, this));
  }

  private _unpatchModule(moduleExports: BullMQModuleLike): void {
    for (const [className, methods] of Object.entries(PATCHED)) {
      const cls = moduleExports[className as keyof BullMQModuleLike];
      if (!cls?.prototype) continue;
      for (const method of methods) {
        if (isWrapped(cls.prototype[method])) this._unwrap(cls.prototype, method);
      }
    }
  }

  private _patchClass(cls: ClassLike | undefined, method: string, wrapper: (original: AnyFunction) => AnyFunction): void {
    const proto = cls?.prototype;
    if (!proto || typeof proto[method] !== 'function') return;
    if (isWrapped(proto[method])) this._unwrap(proto, method);
    this._wrap(proto, method, wrapper as never);
  }

  // --- producers -------------------------------------------------------------------------

  private _patchQueueAdd(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function add(this: QueueLike, name: string, data: unknown, opts?: JobOptsLike) {
      const span = instrumentation.tracer.startSpan(`add ${this.name}`, {
        kind: SpanKind.PRODUCER,
        attributes: producerAttributes(this.name, 'add'),
      });
      const ctx = trace.setSpan(context.active(), span);
      return instrumentation._traceSend(span, ctx, () =>
        original.call(this, name, data, optsWithCarrier(opts, ctx)),
      (job: JobLike | undefined) => {
        if (job?.id !== undefined) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, String(job.id));
      });
    };
  }

  private _patchQueueAddBulk(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function addBulk(this: QueueLike, jobs: BulkJobLike[]) {
      if (!Array.isArray(jobs)) return original.apply(this, arguments as never);
      const span = instrumentation.tracer.startSpan(`addBulk ${this.name}`, {
        kind: SpanKind.PRODUCER,
        attributes: { ...producerAttributes(this.name, 'addBulk'), [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: jobs.length },
      });
      const ctx = trace.setSpan(context.active(), span);
      const carried = jobs.map((job) => (job ? { ...job, opts: optsWithCarrier(job.opts, ctx) } : job));
      return instrumentation._traceSend(span, ctx, () => original.call(this, carried));
    };
  }

  private _patchFlowAdd(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function add(this: unknown, flow: FlowJobLike, opts?: unknown) {
      if (!flow || typeof flow !== 'object') return original.apply(this, arguments as never);
      const span = instrumentation.tracer.startSpan(`addFlow ${flow.queueName}`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...producerAttributes(flow.queueName, 'addFlow'),
          [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: countFlowNodes(flow),
        },
      });
      const ctx = trace.setSpan(context.active(), span);
      return instrumentation._traceSend(span, ctx, () => original.call(this, flowWithCarrier(flow, ctx), opts),
        (tree: { job?: JobLike } | undefined) => {
          if (tree?.job?.id !== undefined) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, String(tree.job.id));
        });
    };
  }

  private _patchFlowAddBulk(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function addBulk(this: unknown, flows: FlowJobLike[]) {
      if (!Array.isArray(flows) || flows.length === 0) return original.apply(this, arguments as never);
      const queues = new Set(flows.map((f) => f?.queueName));
      const destination = queues.size === 1 ? String(flows[0]!.queueName) : undefined;
      const attributes = producerAttributes(destination ?? '', 'addBulkFlows');
      if (destination === undefined) delete attributes['messaging.destination.name'];
      attributes[ATTR_MESSAGING_BATCH_MESSAGE_COUNT] = flows.reduce((n, f) => n + (f ? countFlowNodes(f) : 0), 0);
      const span = instrumentation.tracer.startSpan(destination ? `addBulkFlows ${destination}` : 'addBulkFlows', {
        kind: SpanKind.PRODUCER,
        attributes,
      });
      const ctx = trace.setSpan(context.active(), span);
      return instrumentation._traceSend(span, ctx, () =>
        original.call(this, flows.map((f) => (f && typeof f === 'object' ? flowWithCarrier(f, ctx) : f))));
    };
  }

  /** Runs a producer call in ctx and ends span when its promise settles. */
  private _traceSend<T>(span: Span, ctx: Context, call: () => Promise<T>, onResult?: (result: T) => void): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = context.with(ctx, call);
    } catch (err) {
      recordError(span, err);
      span.end();
      throw err;
    }
    return pending.then(
      (result) => {
        try {
          onResult?.(result);
        } finally {
          span.end();
        }
        return result;
      },
      (err: unknown) => {
        recordError(span, err);
        span.end();
        throw err;
      },
    );
  }

  // --- workers ---------------------------------------------------------------------------

  /**
   * A worker's main loop, lock renewal and stalled checker all start from Worker.run(); QueueEvents
   * reads its event stream in a blocking loop started by QueueEvents.run(). Running them detached
   * from the caller's context keeps jobs from becoming children of whatever request happened to
   * start the worker, and (by default) suppresses tracing of the polling itself.
   */
  private _patchBackgroundRun(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function run(this: unknown) {
      const base = instrumentation.getConfig().suppressInternalOperations === false
        ? ROOT_CONTEXT
        : suppressTracing(ROOT_CONTEXT);
      return context.with(base, () => original.apply(this, arguments as never));
    };
  }

  private _patchProcessJob(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function processJob(this: WorkerLike, job: JobLike) {
      if (!job || typeof job !== 'object') return original.apply(this, arguments as never);
      let run: JobRun;
      try {
        run = instrumentation._startRun(this, job);
      } catch {
        // telemetry never stands between a worker and its job
        return original.apply(this, arguments as never);
      }
      const result = original.apply(this, arguments as never);
      if (!isPromiseLike(result)) {
        instrumentation._endRun(this, job, run);
        return result;
      }
      return (result as Promise<unknown>).then(
        (value) => {
          instrumentation._endRun(this, job, run);
          return value;
        },
        (err: unknown) => {
          run.processorError ??= err;
          instrumentation._endRun(this, job, run);
          throw err;
        },
      );
    };
  }

  /** The user's processor runs here: make the job span active so its SQL/Redis/HTTP nest under it. */
  private _patchCallProcessJob(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function callProcessJob(this: WorkerLike, job: JobLike) {
      const run = job ? instrumentation._runs.get(job) : undefined;
      if (!run) return original.apply(this, arguments as never);
      const ctx = trace.setSpan(unsuppressTracing(context.active()), run.span);
      const args = arguments;
      let result: unknown;
      try {
        result = context.with(ctx, () => original.apply(this, args as never));
      } catch (err) {
        run.processorError = err;
        throw err;
      }
      if (!isPromiseLike(result)) return result;
      return (result as Promise<unknown>).then(undefined, (err: unknown) => {
        run.processorError = err;
        throw err;
      });
    };
  }

  /** Worker events name jobs by id only: 'lockRenewalFailed' marks the run that lost its lock. */
  private _patchWorkerEmit(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function emit(this: WorkerLike, event: unknown, ...args: unknown[]) {
      if (event === 'lockRenewalFailed' && Array.isArray(args[0])) {
        const runs = instrumentation._runsByWorker.get(this);
        for (const id of args[0]) {
          runs?.get(String(id))?.span.addEvent(EVENT_LOCK_LOST, { 'waggle.lock.reason': 'renewal_failed' });
        }
      }
      return original.apply(this, arguments as never);
    };
  }

  private _patchMoveToCompleted(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function moveToCompleted(this: JobLike) {
      const run = instrumentation._runs.get(this);
      if (!run) return original.apply(this, arguments as never);
      return instrumentation._settle(run, original.apply(this, arguments as never), () => {
        run.outcome = OUTCOME_COMPLETED;
      });
    };
  }

  private _patchMoveToFailed(original: AnyFunction, instrumentation: BullMQInstrumentation): AnyFunction {
    return function moveToFailed(this: JobLike, err: unknown) {
      const run = instrumentation._runs.get(this);
      if (!run) return original.apply(this, arguments as never);
      run.processorError ??= err;
      return instrumentation._settle(run, original.apply(this, arguments as never), () => {
        // bullmq stamps finishedOn only when the job is finally failed; a retry leaves it unset.
        if (this.finishedOn) {
          const attemptsLeft = maxAttempts(this) > this.attemptsMade;
          run.outcome = isUnrecoverable(err) || this.discarded || attemptsLeft ? OUTCOME_DISCARDED : OUTCOME_FAILED;
        } else {
          run.outcome = OUTCOME_WILL_RETRY;
          if (typeof this.delay === 'number' && this.delay > 0 && this.opts?.backoff !== undefined) {
            run.span.setAttribute(ATTR_WAGGLE_JOB_RETRY_DELAY_MS, this.delay);
          }
        }
      });
    };
  }

  /** Settling a job fails when the worker no longer holds its lock: that is the lock_lost event. */
  private _settle(run: JobRun, result: unknown, onSettled: () => void): unknown {
    const settled = () => {
      try {
        onSettled();
      } catch {
        // an outcome we could not work out is left unrecorded
      }
    };
    if (!isPromiseLike(result)) {
      settled();
      return result;
    }
    return (result as Promise<unknown>).then(
      (value) => {
        settled();
        return value;
      },
      (err: unknown) => {
        if (isLockError(err)) {
          run.span.addEvent(EVENT_LOCK_LOST, {
            'waggle.lock.reason': 'settle_rejected',
            'exception.message': err instanceof Error ? err.message : String(err),
          });
        }
        throw err;
      },
    );
  }

  private _startRun(worker: WorkerLike, job: JobLike): JobRun {
    const consumerContext = this.getConfig().consumerContext ?? 'link';
    const producer = extractProducerContext(job);
    const producerSpan = producer ? trace.getSpanContext(producer) : undefined;
    const asChild = consumerContext === 'parent' && producerSpan !== undefined;
    const links: Link[] = producerSpan && !asChild ? [{ context: producerSpan }] : [];
    const attributes = processAttributes(worker, job);
    const span = this.tracer.startSpan(
      `process ${attributes['messaging.destination.name']}`,
      { kind: SpanKind.CONSUMER, links, attributes, root: !asChild },
      asChild ? producer : ROOT_CONTEXT,
    );
    if (job.stalledCounter) {
      // The job was moved back to wait by a stalled-job check: the worker that ran an earlier
      // attempt died or blocked the event loop past its lock. Recorded on the attempt that resumes it.
      span.addEvent(EVENT_STALLED, {
        [ATTR_WAGGLE_JOB_STALLED_COUNT]: job.stalledCounter,
        [ATTR_WAGGLE_JOB_ATTEMPT]: (job.attemptsMade ?? 0) + 1,
      });
    }
    const run: JobRun = { span };
    this._runs.set(job, run);
    if (job.id !== undefined) {
      let runs = this._runsByWorker.get(worker);
      if (!runs) this._runsByWorker.set(worker, (runs = new Map()));
      runs.set(String(job.id), run);
    }
    return run;
  }

  private _endRun(worker: WorkerLike, job: JobLike, run: JobRun): void {
    try {
      this._runs.delete(job);
      if (job.id !== undefined) this._runsByWorker.get(worker)?.delete(String(job.id));
      if (run.outcome) run.span.setAttribute(ATTR_WAGGLE_JOB_OUTCOME, run.outcome);
      if (run.processorError !== undefined) recordError(run.span, run.processorError);
    } finally {
      run.span.end();
    }
  }
}

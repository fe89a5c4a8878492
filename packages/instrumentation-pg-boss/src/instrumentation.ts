/* oxlint-disable no-underscore-dangle -- InstrumentationBase's own API is _wrap and _unwrap; the private patch helpers follow its naming */
import { context, createContextKey, propagation, ROOT_CONTEXT, trace, type Context, type SpanContext } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  isWrapped,
} from '@opentelemetry/instrumentation';
import type { PgBossInstrumentationConfig } from './types.js';
import type { AnyFunction, PgBossJobLike, PgBossModuleLike, WorkOptionsLike } from './internal-types.js';
import {
  ATTR_WAGGLE_JOB_OUTCOME,
  ATTR_WAGGLE_JOB_RETRY_DELAY_MS,
  ATTR_WAGGLE_WORKER_CONCURRENCY,
  OUTCOME_COMPLETED,
  OUTCOME_FAILED,
  OUTCOME_WILL_RETRY,
} from './semconv.js';
import { addStalledEvent, expiryReason, jobAttributes, willRetry } from './utils.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

const PATCHED = ['start', 'work'] as const;

/** Set on the context of a work() loop whose jobs start traces of their own (consumerContext 'link'). */
const LINK_JOBS = createContextKey('@waggle/instrumentation-pg-boss link jobs');
/** The sender's span context, kept on a job's context in link mode for the handler to link to. */
const SENDER = createContextKey('@waggle/instrumentation-pg-boss sender');

/**
 * Builds on pg-boss's own OpenTelemetry spans (pg-boss 12.38 emits `send` PRODUCER and `process`
 * CONSUMER spans with the messaging conventions): adds attempts, queue wait, outcome and expiry
 * ("stalled") to each process span, keeps pg-boss's polling and supervision out of traces, and by
 * default starts each job's trace anew with a link to its send.
 */
export class PgBossInstrumentation extends InstrumentationBase<PgBossInstrumentationConfig> {
  constructor(config: PgBossInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'pg-boss',
        ['>=12.38.0 <13'],
        (moduleExports: PgBossModuleLike) => {
          const proto = moduleExports?.PgBoss?.prototype;
          if (!proto) return moduleExports;
          for (const method of PATCHED) if (isWrapped(proto[method])) this._unwrap(proto, method);
          this._wrap(proto, 'start', ((original: AnyFunction) => this._patchStart(original, this)) as never);
          this._wrap(proto, 'work', ((original: AnyFunction) => this._patchWork(original, this)) as never);
          if (isWrapped(propagation.extract)) this._unwrap(propagation, 'extract');
          this._wrap(propagation, 'extract', ((original: AnyFunction) => this._patchExtract(original)) as never);
          return moduleExports;
        },
        (moduleExports: PgBossModuleLike) => {
          const proto = moduleExports?.PgBoss?.prototype;
          if (!proto) return;
          for (const method of PATCHED) if (isWrapped(proto[method])) this._unwrap(proto, method);
          if (isWrapped(propagation.extract)) this._unwrap(propagation, 'extract');
        },
      ),
    ];
  }

  /** The base context for pg-boss's own loops: detached from the caller, and quiet by default. */
  private _loopContext(linkJobs = false): Context {
    const base = this.getConfig().suppressInternalOperations === false ? ROOT_CONTEXT : suppressTracing(ROOT_CONTEXT);
    return linkJobs ? base.setValue(LINK_JOBS, true) : base;
  }

  /**
   * pg-boss makes a single job's `process` span a child of whatever its propagator extracts from the job's
   * stored context (through the global `propagation` API unless given one of its own). Inside a link-mode work()
   * loop the extracted context keeps its baggage but loses the span, so the process span starts a trace of its
   * own, and the sender's span context is kept on it for the handler to link to. Everywhere else: unchanged.
   */
  private _patchExtract(original: AnyFunction): AnyFunction {
    return function extract(this: unknown) {
      const extracted = original.apply(this, arguments as never) as Context;
      if (context.active().getValue(LINK_JOBS) !== true) return extracted;
      const sender = trace.getSpanContext(extracted);
      return sender ? trace.deleteSpan(extracted).setValue(SENDER, sender) : extracted;
    };
  }

  /** start() launches supervision, maintenance, scheduling and queue-cache timers. */
  private _patchStart(original: AnyFunction, instrumentation: PgBossInstrumentation): AnyFunction {
    return function start(this: unknown) {
      return context.with(instrumentation._loopContext(), () => original.apply(this, arguments as never));
    };
  }

  /**
   * work() starts the polling loop in the caller's context. pg-boss picks each process span's
   * parent explicitly (the producer's context, or none), so suppressing the loop leaves handlers traced.
   */
  private _patchWork(original: AnyFunction, instrumentation: PgBossInstrumentation): AnyFunction {
    return function work(this: unknown, name: unknown, ...args: unknown[]) {
      const handlerIndex = args.length === 1 ? 0 : 1;
      const handler = args[handlerIndex];
      if (typeof handler !== 'function') return original.apply(this, arguments as never);
      let options: WorkOptionsLike = args.length === 1 ? {} : ((args[0] as WorkOptionsLike | null) ?? {});
      if (options.includeMetadata === undefined && instrumentation.getConfig().fetchMetadata !== false) {
        options = { ...options, includeMetadata: true };
      }
      const wrapped = instrumentation._wrapHandler(handler as AnyFunction, options);
      // A batch already starts its own trace with a link per job (pg-boss's choice); only single jobs need it.
      const linkJobs = instrumentation.getConfig().consumerContext !== 'parent' && !(typeof options.batchSize === 'number' && options.batchSize > 1);
      return context.with(instrumentation._loopContext(linkJobs), () => original.call(this, name, options, wrapped));
    };
  }

  private _wrapHandler(handler: AnyFunction, options: WorkOptionsLike): AnyFunction {
    const concurrency = typeof options.localConcurrency === 'number' ? options.localConcurrency : 1;
    return async function traced(this: unknown, jobs: unknown) {
      // pg-boss made its process span the active one before calling the handler.
      const span = trace.getActiveSpan();
      const single = Array.isArray(jobs) && jobs.length === 1 ? (jobs[0] as PgBossJobLike) : undefined;
      if (span) {
        try {
          const sender = context.active().getValue(SENDER) as SpanContext | undefined;
          if (sender) span.addLink({ context: sender });
          span.setAttribute(ATTR_WAGGLE_WORKER_CONCURRENCY, concurrency);
          if (single) {
            span.setAttributes(jobAttributes(single));
            const reason = expiryReason(single);
            if (reason) addStalledEvent(span, single, reason);
          }
        } catch {
          // unexpected job shapes cost attributes, never the job
        }
      }
      try {
        const result = await handler.apply(this, arguments as never);
        span?.setAttribute(ATTR_WAGGLE_JOB_OUTCOME, OUTCOME_COMPLETED);
        return result;
      } catch (err) {
        if (span && single) {
          const retry = willRetry(single);
          if (retry !== undefined) span.setAttribute(ATTR_WAGGLE_JOB_OUTCOME, retry ? OUTCOME_WILL_RETRY : OUTCOME_FAILED);
          if (retry && !single.retryBackoff && typeof single.retryDelay === 'number' && single.retryDelay > 0) {
            span.setAttribute(ATTR_WAGGLE_JOB_RETRY_DELAY_MS, single.retryDelay * 1000);
          }
        }
        // A failed batch: pg-boss retries each job on its own terms, so no single outcome fits.
        throw err;
      }
    };
  }
}

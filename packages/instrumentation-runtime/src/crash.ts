import { SpanStatusCode } from '@opentelemetry/api';
import type { Attributes, Link, Tracer } from '@opentelemetry/api';
import type { RuntimeCore } from './core.js';
import {
  ATTR_EXCEPTION_MESSAGE,
  ATTR_EXCEPTION_STACKTRACE,
  ATTR_EXCEPTION_TYPE,
  ATTR_PROCESS_CRASHED,
  ATTR_PROCESS_CRASH_INTERRUPTED_SPANS,
  ATTR_PROCESS_CRASH_ORIGIN,
  ATTR_PROCESS_EXIT_CODE,
  ATTR_PROCESS_PID,
  ATTR_PROCESS_UPTIME_S,
  ATTR_RUNTIME_HEAP_USED_BYTES,
  ATTR_RUNTIME_HEAP_USED_RATIO,
  SPAN_PROCESS_CRASH,
  SPAN_PROCESS_UNCAUGHT_EXCEPTION,
} from './semconv.js';
import { errorFields } from './utils.js';

/** Exit code Node uses for an uncaught exception (and an unhandled rejection in 'throw'/'strict' mode). */
const UNCAUGHT_EXIT_CODE = 1;
/** Links from the crash span to interrupted spans; more would bloat the one span that must get out. */
const MAX_CRASH_LINKS = 32;

export interface CrashInfo {
  type: string;
  message: string;
}

/**
 * Turns a fatal uncaught exception into telemetry, then lets the process die as it would have.
 *
 * Node escalates an unhandled rejection to 'uncaughtException' (origin 'unhandledRejection') exactly
 * when its --unhandled-rejections mode makes it fatal ('throw' without an 'unhandledRejection' listener,
 * or 'strict'), so one 'uncaughtException' listener follows every mode without parsing flags.
 * The exception would end the process only if ours is the only listener; otherwise the app handles it
 * and we record a `process.uncaught_exception` span and leave the process alone.
 *
 * To flush asynchronously the listener keeps the process alive (other callbacks may still run during
 * the flush, at most `flushTimeoutMs`), then removes itself and raises the same error again: with
 * `process.nextTick(() => { throw error })` for exceptions and `Promise.reject(error)` for rejections,
 * so Node prints it and exits with code 1 itself. The stack, message and exit code are Node's own; the
 * source excerpt Node prints above the stack points at the rethrow line below.
 */
export class CrashCapture {
  /** Set when the process is crashing; read by the restart state writer at exit. */
  crash: CrashInfo | undefined;
  private _installed = false;

  constructor(
    private readonly _core: RuntimeCore,
    private readonly _tracer: () => Tracer,
    private readonly _flush: () => Promise<void>,
  ) {}

  private readonly _onUncaught = (error: unknown, origin: string): void => {
    try {
      const others = process.listeners('uncaughtException').filter((l) => l !== this._onUncaught);
      if (others.length > 0) {
        this._recordHandled(error, origin);
        return;
      }
    } catch {
      // fall through to the crash path: Node would have crashed
    }
    if (this.crash) return; // a second error while flushing; the first one already decides the exit
    const fields = errorFields(error);
    this.crash = { type: fields.type, message: fields.message };
    try {
      this._recordCrash(error, origin);
    } catch {
      // never let telemetry change how the process dies
    }
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      this.uninstall();
      reraise(error, origin);
    };
    // A ref'd timer: the process must stay alive until the flush ends or the deadline passes.
    const deadline = setTimeout(finish, this._core.config.flushTimeoutMs);
    let flushing: Promise<void>;
    try {
      flushing = this._flush();
    } catch {
      flushing = Promise.resolve();
    }
    flushing.then(finish, finish);
  };

  install(): void {
    if (this._installed) return;
    this._installed = true;
    process.on('uncaughtException', this._onUncaught);
  }

  uninstall(): void {
    if (!this._installed) return;
    this._installed = false;
    process.removeListener('uncaughtException', this._onUncaught);
  }

  private _recordCrash(error: unknown, origin: string): void {
    const core = this._core;
    core.sampler.sample(); // fresh heap figures for the crash span, also when the timer is off
    const links: Link[] = [];
    const interrupted = [...core.inFlight];
    const message = `process crashed: ${errorFields(error).message}`;
    for (const span of interrupted) {
      span.setAttribute(ATTR_PROCESS_CRASHED, true);
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      if (links.length < MAX_CRASH_LINKS) links.push({ context: span.spanContext() });
    }
    // End children before parents is not needed: every span gets the same end time.
    const endTime = Date.now();
    for (const span of interrupted) span.end(endTime);
    const attributes: Attributes = {
      ...exceptionAttributes(error),
      [ATTR_PROCESS_CRASHED]: true,
      [ATTR_PROCESS_CRASH_ORIGIN]: origin,
      [ATTR_PROCESS_EXIT_CODE]: UNCAUGHT_EXIT_CODE,
      [ATTR_PROCESS_PID]: process.pid,
      [ATTR_PROCESS_UPTIME_S]: Math.round(process.uptime() * 1000) / 1000,
      [ATTR_PROCESS_CRASH_INTERRUPTED_SPANS]: interrupted.length,
      [ATTR_RUNTIME_HEAP_USED_BYTES]: core.sampler.heapUsedBytes,
      [ATTR_RUNTIME_HEAP_USED_RATIO]: Math.round(core.sampler.heapUsedRatio * 1000) / 1000,
    };
    const crashSpan = this._tracer().startSpan(SPAN_PROCESS_CRASH, { attributes, links, root: true });
    crashSpan.setStatus({ code: SpanStatusCode.ERROR, message: errorFields(error).message });
    crashSpan.end();
  }

  private _recordHandled(error: unknown, origin: string): void {
    const span = this._tracer().startSpan(SPAN_PROCESS_UNCAUGHT_EXCEPTION, {
      root: true,
      attributes: {
        ...exceptionAttributes(error),
        [ATTR_PROCESS_CRASHED]: false,
        [ATTR_PROCESS_CRASH_ORIGIN]: origin,
      },
    });
    span.end();
  }
}

function exceptionAttributes(error: unknown): Attributes {
  const f = errorFields(error);
  const attrs: Attributes = { [ATTR_EXCEPTION_TYPE]: f.type, [ATTR_EXCEPTION_MESSAGE]: f.message };
  if (f.stack) attrs[ATTR_EXCEPTION_STACKTRACE] = f.stack;
  return attrs;
}

/** Raises the error again with no listener left, so Node reports it and exits exactly as it would have. */
function reraise(error: unknown, origin: string): void {
  if (origin === 'unhandledRejection') {
    // An unhandled rejection again: Node applies its --unhandled-rejections mode and prints as usual.
    void Promise.reject(error);
    return;
  }
  process.nextTick(() => {
    throw error; // rethrown by @waggle/instrumentation-runtime after flushing telemetry (original stack below)
  });
}

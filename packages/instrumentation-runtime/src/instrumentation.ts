import { trace } from '@opentelemetry/api';
import type { Histogram, TracerProvider } from '@opentelemetry/api';
import { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped } from '@opentelemetry/instrumentation';
import type { Logger as WinstonLogger } from 'winston';
import { RuntimeCore } from './core.js';
import { CrashCapture } from './crash.js';
import type { LogMethod, PinoLike } from './internal-types.js';
import { gcTypeName, registerRuntimeMetrics } from './metrics.js';
import { RestartTracker } from './restarts.js';
import { coreOf } from './span-processor.js';
import type { RuntimeInstrumentationConfig } from './types.js';
import { estimateConsoleBytes, resolveConfig } from './utils.js';

const PACKAGE_NAME = '@waggle/instrumentation-runtime';
const PACKAGE_VERSION = '0.1.0';
const CONSOLE_METHODS = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
const WINSTON_MESSAGE = Symbol.for('message');

type WinstonExports = { Logger?: typeof WinstonLogger; default?: { Logger?: typeof WinstonLogger } };

/** require() gives winston's exports; an ESM import hook gives a namespace with them as `default`. */
function winstonLoggerPrototype(moduleExports: WinstonExports): WinstonLogger | undefined {
  const Logger = moduleExports?.Logger ?? moduleExports?.default?.Logger;
  return typeof Logger === 'function' ? Logger.prototype : undefined;
}

/**
 * A logger call made from inside another measured call (winston printing through console, a child
 * logger delegating to its parent) is part of the outer call's cost and must not be counted twice.
 */
let logDepth = 0;

/**
 * Runtime pressure on spans: wide heap / event-loop / GC fields on local root spans (with
 * RuntimeSpanProcessor), logger cost for pino `>=8 <11`, winston `>=3 <4` and console, crash capture
 * and restart / crash-loop detection. Create both halves with `createRuntimeTelemetry()`.
 */
export class RuntimeInstrumentation extends InstrumentationBase<RuntimeInstrumentationConfig> {
  // `declare`: the base constructor calls enable() before class fields would be initialised.
  declare private _core: RuntimeCore;
  declare private _crashCapture: CrashCapture;
  declare private _restarts: RestartTracker;
  declare private _tracerProvider: TracerProvider | undefined;
  declare private _gcHistogram: Histogram | undefined;
  declare private _pinoProto: Record<symbol, unknown> | undefined;
  declare private _pinoSyms: { writeSym: symbol; asJsonSym: symbol } | undefined;

  constructor(config: RuntimeInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    this._ensureCore();
  }

  /** Validates and applies config; changes take effect on the next enable(). */
  override setConfig(config: RuntimeInstrumentationConfig = {}): void {
    const resolved = resolveConfig(config); // throws WAGGLE_RUNTIME_CONFIG_INVALID before anything changes
    super.setConfig(config);
    if (this._core) this._core.config = resolved;
  }

  override setTracerProvider(tracerProvider: TracerProvider): void {
    super.setTracerProvider(tracerProvider);
    this._ensureCore();
    this._tracerProvider = tracerProvider;
  }

  override enable(): void {
    this._ensureCore();
    super.enable();
    const core = this._core;
    if (core.active) return;
    core.active = true;
    const config = core.config;
    if (config.spanFields || config.metrics) core.sampler.start(config.sampleIntervalMs);
    if (config.loggerCost) this._patchConsole();
    if (config.crashEnabled) this._crashCapture.install();
    if (config.restartsEnabled) this._restarts.install();
  }

  override disable(): void {
    super.disable();
    if (!this._core?.active) return;
    this._core.active = false;
    this._core.sampler.stop();
    this._unpatchConsole();
    this._crashCapture.uninstall();
    this._restarts.uninstall();
  }

  protected init() {
    return [
      new InstrumentationNodeModuleDefinition(
        'pino',
        ['>=8 <11'],
        (moduleExports: PinoLike) => this._patchPino(moduleExports),
        () => this._unpatchPino(),
      ),
      new InstrumentationNodeModuleDefinition(
        'winston',
        ['>=3 <4'],
        (moduleExports: WinstonExports) => {
          this._ensureCore();
          const proto = winstonLoggerPrototype(moduleExports);
          if (proto && this._core.config.loggerCost && !isWrapped(proto.write)) {
            this._wrap(proto, 'write', (original) => this._measureWinston(original));
          }
          return moduleExports;
        },
        (moduleExports: WinstonExports) => {
          const proto = winstonLoggerPrototype(moduleExports);
          if (proto && isWrapped(proto.write)) this._unwrap(proto, 'write');
        },
      ),
    ];
  }

  /** Called by the base class whenever a meter provider is set: registers instruments only when asked to. */
  protected override _updateMetricInstruments(): void {
    if (!this._core?.config.metrics) return;
    this._gcHistogram = registerRuntimeMetrics(this.meter, this._core.sampler);
    const histogram = this._gcHistogram;
    this._core.sampler.onGc = (ms, kind) => histogram.record(ms / 1000, { 'v8js.gc.type': gcTypeName(kind) });
  }

  private _ensureCore(): void {
    if (this._core) return;
    const core = new RuntimeCore(resolveConfig(this._config));
    this._core = core;
    coreOf.set(this, core);
    const tracer = () => this.tracer;
    this._crashCapture = new CrashCapture(core, tracer, () => this._flushAll());
    this._restarts = new RestartTracker(core, tracer, this._crashCapture);
    core.sampler.onSample = () => {
      const ratio = core.sampler.heapUsedRatio;
      if (ratio >= core.config.memoryPressureThreshold && ratio > core.memoryPressurePeak) {
        core.memoryPressurePeak = ratio;
        if (core.config.restartsEnabled) this._restarts.notePressure(ratio);
      }
    };
    this._updateMetricInstruments();
  }

  private _flushAll(): Promise<void> {
    const configured = this._config.flush;
    if (configured) return configured();
    const provider = (this._tracerProvider ?? trace.getTracerProvider()) as TracerProvider & {
      getDelegate?: () => TracerProvider;
      forceFlush?: () => Promise<void>;
    };
    const target = (provider.getDelegate?.() ?? provider) as { forceFlush?: () => Promise<void> };
    return typeof target.forceFlush === 'function' ? target.forceFlush() : Promise.resolve();
  }

  /** Times a synchronous logger call and charges it to the active span. */
  private _measure<T>(call: () => T, bytes: (result: T) => number): T {
    if (logDepth > 0 || !this._core.active) return call();
    // Outside any tracked span there is nothing to charge: skip the clock entirely.
    const rec = this._core.activeRecord();
    if (!rec) return call();
    logDepth++;
    const start = performance.now();
    let result: T;
    try {
      result = call();
    } finally {
      logDepth--;
    }
    const durationMs = performance.now() - start;
    try {
      this._core.recordLog(rec, durationMs, bytes(result));
    } catch {
      // accounting must never break logging
    }
    return result;
  }

  private _patchConsole(): void {
    for (const name of CONSOLE_METHODS) {
      if (typeof console[name] !== 'function' || isWrapped(console[name])) continue;
      const measure = this._measure.bind(this);
      this._wrap(console, name, (original: LogMethod) => {
        return function (this: unknown, ...args: unknown[]) {
          return measure(
            () => original.apply(this, args),
            () => estimateConsoleBytes(args),
          );
        } as never;
      });
    }
  }

  private _unpatchConsole(): void {
    for (const name of CONSOLE_METHODS) if (isWrapped(console[name])) this._unwrap(console, name);
  }

  /**
   * pino builds its level methods per logger, but every logger ends in the shared prototype's
   * `[writeSym]` (serialise with `[asJsonSym]`, then `stream.write`). Patch those two once: the
   * duration covers serializers and the synchronous stream write, the bytes are the JSON line length.
   */
  private _patchPino(moduleExports: PinoLike | { default?: PinoLike }): PinoLike | { default?: PinoLike } {
    this._ensureCore();
    // require() gives the pino function; an ESM import hook gives a namespace with it as `default`.
    const pino = (typeof moduleExports === 'function' ? moduleExports : moduleExports?.default) as PinoLike;
    if (!this._core.config.loggerCost) return pino;
    const writeSym = pino?.symbols?.writeSym;
    const asJsonSym = pino?.symbols?.asJsonSym;
    if (typeof pino !== 'function' || !writeSym || !asJsonSym) return moduleExports;
    let proto: Record<symbol, unknown> | null;
    try {
      // A throwaway logger on a no-op stream is the only public way to reach the shared prototype.
      proto = pino({ enabled: false }, { write() {} }) as Record<symbol, unknown>;
      while (proto && !Object.prototype.hasOwnProperty.call(proto, writeSym)) proto = Object.getPrototypeOf(proto);
    } catch {
      return moduleExports;
    }
    if (!proto || typeof proto[writeSym] !== 'function' || isWrapped(proto[writeSym])) return moduleExports;
    // Bytes travel from asJson (inside write) to the write wrapper; calls are synchronous, so one slot is enough.
    const lastBytes = { value: 0 };
    const measure = this._measure.bind(this);
    this._wrap(proto, asJsonSym, (original) => {
      return function (this: unknown, ...args: unknown[]) {
        const line = (original as LogMethod).apply(this, args);
        lastBytes.value = typeof line === 'string' ? line.length : 0;
        return line;
      };
    });
    this._wrap(proto, writeSym, (original) => {
      return function (this: unknown, ...args: unknown[]) {
        lastBytes.value = 0;
        return measure(
          () => (original as LogMethod).apply(this, args),
          () => lastBytes.value,
        );
      };
    });
    this._pinoProto = proto;
    this._pinoSyms = { writeSym, asJsonSym };
    return moduleExports;
  }

  private _unpatchPino(): void {
    const proto = this._pinoProto;
    const syms = this._pinoSyms;
    if (!proto || !syms) return;
    if (isWrapped(proto[syms.writeSym])) this._unwrap(proto, syms.writeSym);
    if (isWrapped(proto[syms.asJsonSym])) this._unwrap(proto, syms.asJsonSym);
    this._pinoProto = undefined;
    this._pinoSyms = undefined;
  }

  /** winston: `write(info)` runs the format chain and hands the line to transports synchronously. */
  private _measureWinston(original: WinstonLogger['write']): WinstonLogger['write'] {
    const measure = this._measure.bind(this);
    return function (this: WinstonLogger, ...args: unknown[]) {
      const info = args[0] as Record<symbol, unknown> | undefined;
      return measure(
        () => (original as unknown as LogMethod).apply(this, args),
        () => {
          const line = info?.[WINSTON_MESSAGE];
          return typeof line === 'string' ? line.length : 0;
        },
      );
    } as WinstonLogger['write'];
  }
}

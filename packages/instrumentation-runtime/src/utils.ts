import * as os from 'node:os';
import * as path from 'node:path';
import type { ResolvedConfig } from './internal-types.js';
import type { RuntimeInstrumentationConfig } from './types.js';

/** Error code used for every invalid option. */
export const CONFIG_ERROR_CODE = 'WAGGLE_RUNTIME_CONFIG_INVALID';

function fail(option: string, accepted: string, got: unknown): never {
  const err = new RangeError(
    `${CONFIG_ERROR_CODE}: ${option} must be ${accepted}; got ${JSON.stringify(got) ?? String(got)}`,
  );
  (err as RangeError & { code: string }).code = CONFIG_ERROR_CODE;
  throw err;
}

function num(option: string, value: unknown, dflt: number, min: number, max: number): number {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    fail(option, `a number from ${min} to ${max}`, value);
  }
  return value;
}

function bool(option: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'boolean') fail(option, 'true or false', value);
  return value;
}

function str(option: string, value: unknown, dflt: string): string {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== 'string' || value.length === 0) fail(option, 'a non-empty string', value);
  return value;
}

/** A numeric setting from the environment; an unparsable value is left to the option's own validation message. */
function envNumber(name: string): number | undefined {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === '' ? undefined : Number(raw);
}

function defaultServiceName(): string {
  const fromEnv = process.env.OTEL_SERVICE_NAME;
  if (fromEnv) return fromEnv;
  const script = process.argv[1];
  return script ? path.basename(script).replace(/\.[cm]?[jt]s$/, '') : 'node';
}

/** Applies defaults and validates; throws a RangeError with code WAGGLE_RUNTIME_CONFIG_INVALID. */
export function resolveConfig(config: RuntimeInstrumentationConfig = {}): ResolvedConfig {
  const crash = config.crash ?? {};
  const restarts = config.restarts ?? {};
  const serviceName = str('serviceName', config.serviceName, defaultServiceName());
  if (config.onVersionChange !== undefined && typeof config.onVersionChange !== 'function') fail('onVersionChange', 'a function', typeof config.onVersionChange);
  return {
    serviceName,
    serviceVersion: config.serviceVersion === undefined || config.serviceVersion === null ? undefined : str('serviceVersion', config.serviceVersion, ''),
    onVersionChange: config.onVersionChange,
    spanFields: bool('spanFields', config.spanFields, true),
    sampleIntervalMs: num('sampleIntervalMs', config.sampleIntervalMs, 1000, 10, 60_000),
    memoryPressureThreshold: num('memoryPressureThreshold', config.memoryPressureThreshold ?? envNumber('WAGGLE_MEMORY_PRESSURE_THRESHOLD'), 0.85, 0.001, 1),
    loggerCost: bool('loggerCost', config.loggerCost, true),
    metrics: bool('metrics', config.metrics, false),
    crashEnabled: bool('crash.enabled', crash.enabled, true),
    flushTimeoutMs: num('crash.flushTimeoutMs', crash.flushTimeoutMs, 2000, 0, 60_000),
    restartsEnabled: bool('restarts.enabled', restarts.enabled, true),
    stateDir: str('restarts.stateDir', restarts.stateDir, process.env.WAGGLE_RUNTIME_STATE_DIR || path.join(os.tmpdir(), 'waggle-runtime')),
    stateKey: str('restarts.stateKey', restarts.stateKey, process.env.WAGGLE_RUNTIME_STATE_KEY || serviceName),
    windowMs: num('restarts.windowMs', restarts.windowMs, 300_000, 1000, 7 * 24 * 3600_000),
    crashLoopThreshold: num('restarts.crashLoopThreshold', restarts.crashLoopThreshold, 3, 0, 10_000),
    recordSignals: bool('restarts.recordSignals', restarts.recordSignals, true),
    maxInFlightSpans: num('maxInFlightSpans', config.maxInFlightSpans, 10_000, 0, 1_000_000),
  };
}

/** File-name-safe form of a state key. */
export function stateFileName(key: string): string {
  return `${key.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100)}.json`;
}

/** Cheap byte estimate of console arguments: strings and numbers only (objects would need formatting). */
export function estimateConsoleBytes(args: unknown[]): number {
  let bytes = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (typeof a === 'string') bytes += a.length + 1;
    else if (typeof a === 'number' || typeof a === 'boolean') bytes += 8;
  }
  return bytes;
}

export function errorFields(error: unknown): { type: string; message: string; stack?: string } {
  if (error instanceof Error) {
    return { type: error.name || 'Error', message: error.message, stack: error.stack };
  }
  return { type: typeof error, message: String(error) };
}

import type { Span } from '@opentelemetry/api';
import type { VersionChange } from './types.js';

/** Config with every default applied (see utils.ts `resolveConfig`). */
export interface ResolvedConfig {
  serviceName: string;
  serviceVersion: string | undefined;
  onVersionChange: ((change: VersionChange) => void | Promise<void>) | undefined;
  spanFields: boolean;
  sampleIntervalMs: number;
  memoryPressureThreshold: number;
  loggerCost: boolean;
  metrics: boolean;
  crashEnabled: boolean;
  flushTimeoutMs: number;
  restartsEnabled: boolean;
  stateDir: string;
  stateKey: string;
  windowMs: number;
  crashLoopThreshold: number;
  recordSignals: boolean;
  maxInFlightSpans: number;
}

/** Per-span bookkeeping, held in a WeakMap keyed by the span (never on the span itself). */
export interface SpanRecord {
  /** The local root of this span's trace in this process (itself for a local root). */
  root: Span;
  isRoot: boolean;
  /** GC pause total (ms) when the span started; only for local roots. */
  gcAtStart: number;
  logCount: number;
  logDurationMs: number;
  logBytes: number;
}

/** One run of the process in the restart state file. */
export interface RunRecord {
  pid: number;
  startedAt: number;
  endedAt?: number;
  exitCode?: number;
  signal?: string;
  crashType?: string;
  crashMessage?: string;
  /** Highest heap ratio seen when it crossed the memory pressure threshold. */
  memoryPressure?: number;
  /** The run's `service.version`, when known. */
  version?: string;
}

export interface RestartStateFile {
  version: 1;
  key: string;
  runs: RunRecord[];
}

/** Minimal shapes of the logger internals we patch (never imported at runtime). */
export interface PinoLike {
  (...args: unknown[]): object;
  symbols?: { writeSym?: symbol; asJsonSym?: symbol };
}

export type LogMethod = (...args: unknown[]) => unknown;

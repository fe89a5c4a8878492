import { diag } from '@opentelemetry/api';
import type { Attributes, Tracer } from '@opentelemetry/api';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CrashCapture } from './crash.js';
import type { RuntimeCore } from './core.js';
import type { ResolvedConfig, RestartStateFile, RunRecord } from './internal-types.js';
import type { VersionChange } from './types.js';
import {
  ATTR_PROCESS_CRASH_COUNT,
  ATTR_PROCESS_CRASH_LOOP,
  ATTR_PROCESS_PID,
  ATTR_PROCESS_PREVIOUS_CRASH_REASON,
  ATTR_PROCESS_PREVIOUS_CRASH_TYPE,
  ATTR_PROCESS_PREVIOUS_END,
  ATTR_PROCESS_PREVIOUS_EXIT_CODE,
  ATTR_PROCESS_PREVIOUS_MEMORY_PRESSURE,
  ATTR_PROCESS_PREVIOUS_SIGNAL,
  ATTR_PROCESS_PREVIOUS_UPTIME_S,
  ATTR_PROCESS_PREVIOUS_VERSION,
  ATTR_PROCESS_RESTART_COUNT,
  ATTR_PROCESS_RESTART_WINDOW_S,
  SPAN_PROCESS_START,
} from './semconv.js';
import { stateFileName } from './utils.js';
import { claimVersionChange } from './version-changes.js';

/** Runs kept in the state file; older ones never matter for a window of minutes. */
const MAX_RUNS = 50;
const RECORDED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** How a previous run ended, as recorded by its exit handler (or not at all). */
export function endOf(run: RunRecord): 'crash' | 'exit' | 'signal' | 'unknown' {
  if (run.crashType !== undefined) return 'crash';
  if (run.signal !== undefined) return 'signal';
  if (run.exitCode !== undefined) return 'exit';
  return 'unknown'; // no exit handler ran: SIGKILL, V8 out-of-memory abort, power loss
}

/** A run that ended on its own terms: exit code 0, or a termination signal someone sent on purpose. */
function endedCleanly(run: RunRecord): boolean {
  const end = endOf(run);
  return (end === 'exit' && run.exitCode === 0) || end === 'signal';
}

/**
 * Records each run of the process in a small JSON file (one per state key) and emits a
 * `process.start` span describing the previous run and the restart / crash counts in the window.
 *
 * I/O: the file is read and written with async I/O at start. At exit only synchronous writes are
 * possible (the 'exit' event and a fatal signal give no later tick), so the end of the run is written
 * with writeFileSync there — once per process, never on a request path.
 */
export class RestartTracker {
  private _state: RestartStateFile | undefined;
  private readonly _current: RunRecord = { pid: process.pid, startedAt: Date.now() };
  private _installed = false;
  /** process.start is emitted once per process, even if the instrumentation is disabled and enabled again. */
  private _started = false;
  /** One async write at a time; a pressure update during a write waits for the next rise. */
  private _writing = false;
  private _signalHandlers = new Map<string, () => void>();

  constructor(
    private readonly _core: RuntimeCore,
    private readonly _tracer: () => Tracer,
    private readonly _crash: CrashCapture,
  ) {}

  get filePath(): string {
    return path.join(this._core.config.stateDir, stateFileName(this._core.config.stateKey));
  }

  install(): void {
    if (this._installed) return;
    this._installed = true;
    process.on('exit', this._onExit);
    if (this._core.config.recordSignals) {
      for (const signal of RECORDED_SIGNALS) {
        const handler = (): void => this._onSignal(signal, handler);
        this._signalHandlers.set(signal, handler);
        process.on(signal, handler);
      }
    }
    if (!this._started) {
      this._started = true;
      void this._start();
    }
  }

  uninstall(): void {
    if (!this._installed) return;
    this._installed = false;
    process.removeListener('exit', this._onExit);
    for (const [signal, handler] of this._signalHandlers) process.removeListener(signal, handler);
    this._signalHandlers.clear();
  }

  private async _start(): Promise<void> {
    const config = this._core.config;
    const state = await readState(this.filePath, config.stateKey);
    const now = this._current.startedAt;
    const inWindow = state.runs.filter((r) => now - r.startedAt <= config.windowMs);
    const crashes = inWindow.filter((r) => !endedCleanly(r)).length;
    const previous = state.runs.at(-1);
    if (config.serviceVersion !== undefined) this._current.version = config.serviceVersion;
    const attributes: Attributes = {
      [ATTR_PROCESS_PID]: process.pid,
      [ATTR_PROCESS_RESTART_COUNT]: inWindow.length,
      [ATTR_PROCESS_CRASH_COUNT]: crashes,
      [ATTR_PROCESS_CRASH_LOOP]: crashes > config.crashLoopThreshold,
      [ATTR_PROCESS_RESTART_WINDOW_S]: config.windowMs / 1000,
    };
    if (previous) {
      attributes[ATTR_PROCESS_PREVIOUS_END] = endOf(previous);
      if (previous.exitCode !== undefined) attributes[ATTR_PROCESS_PREVIOUS_EXIT_CODE] = previous.exitCode;
      if (previous.signal !== undefined) attributes[ATTR_PROCESS_PREVIOUS_SIGNAL] = previous.signal;
      if (previous.crashType !== undefined) attributes[ATTR_PROCESS_PREVIOUS_CRASH_TYPE] = previous.crashType;
      if (previous.crashMessage !== undefined) {
        attributes[ATTR_PROCESS_PREVIOUS_CRASH_REASON] = previous.crashMessage;
      }
      if (previous.endedAt !== undefined) {
        attributes[ATTR_PROCESS_PREVIOUS_UPTIME_S] = (previous.endedAt - previous.startedAt) / 1000;
      }
      if (previous.memoryPressure !== undefined) {
        attributes[ATTR_PROCESS_PREVIOUS_MEMORY_PRESSURE] = previous.memoryPressure;
      }
      if (previous.version !== undefined) attributes[ATTR_PROCESS_PREVIOUS_VERSION] = previous.version;
    }
    try {
      const span = this._tracer().startSpan(SPAN_PROCESS_START, { root: true, attributes, startTime: now });
      span.end();
    } catch (err) {
      diag.warn('WAGGLE_RUNTIME_START_SPAN_FAILED: could not record process.start', err);
    }
    // A version change is claimed before this run is recorded: a process that dies in between leaves its previous
    // run as the last one, so the next start sees the change again instead of losing it.
    const version = config.serviceVersion;
    const change: VersionChange | undefined =
      previous?.version !== undefined && version !== undefined && previous.version !== version
        ? { serviceName: config.serviceName, previousVersion: previous.version, version, time: now }
        : undefined;
    const claimed = change !== undefined && (await claimAnnouncement(config, change));
    state.runs = [...state.runs.filter((r) => now - r.startedAt <= config.windowMs), this._current].slice(-MAX_RUNS);
    this._state = state;
    this._writing = true;
    await this._writeAsync();
    this._writing = false;
    if (claimed) await announce(config, change);
  }

  /**
   * Records memory pressure in the state file right away (async), because the likeliest end of such a
   * run, a V8 out-of-memory abort, runs no exit handler. Written again only when the peak rose by 0.02+.
   */
  notePressure(ratio: number): void {
    const rounded = Math.round(ratio * 1000) / 1000;
    if (!this._state || this._writing || rounded < (this._current.memoryPressure ?? 0) + 0.02) return;
    this._current.memoryPressure = rounded;
    this._writing = true;
    void this._writeAsync().finally(() => {
      this._writing = false;
    });
  }

  private async _writeAsync(): Promise<void> {
    try {
      await fs.promises.mkdir(path.dirname(this.filePath), { recursive: true });
      const tmp = `${this.filePath}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify(this._state));
      await fs.promises.rename(tmp, this.filePath);
    } catch (err) {
      diag.warn(`WAGGLE_RUNTIME_STATE_WRITE_FAILED: cannot write ${this.filePath}`, err);
    }
  }

  private readonly _onExit = (code: number): void => {
    this._current.endedAt = Date.now();
    this._current.exitCode = code;
    this._writeEndSync();
  };

  private _onSignal(signal: string, handler: () => void): void {
    this._current.signal = signal;
    this._current.endedAt = Date.now();
    // Written now: a process that then dies by the re-raised signal never emits 'exit'.
    this._writeEndSync();
    // Another listener (the app's, or @waggle/node flushing before it re-raises) decides how the process ends.
    if (process.listenerCount(signal) > 1) return;
    this.uninstall();
    // No one else handles the signal: terminate by it, exactly as the default action would have.
    process.removeListener(signal, handler);
    process.kill(process.pid, signal);
  }

  private _writeEndSync(): void {
    try {
      const crash = this._crash.crash;
      if (crash) {
        this._current.crashType = crash.type;
        this._current.crashMessage = crash.message.slice(0, 500);
      }
      if (this._core.memoryPressurePeak > 0) {
        this._current.memoryPressure = Math.round(this._core.memoryPressurePeak * 1000) / 1000;
      }
      // Known race: an async pressure write whose rename is mid-syscall at this moment could land after
      // this write and drop the run's end; the next start then reports the end as 'unknown'.
      // Exit can come before the async start finished (a crash at boot): read the file synchronously then.
      const state = this._state ?? readStateSync(this.filePath, this._core.config.stateKey);
      if (!state.runs.includes(this._current)) {
        state.runs = state.runs.filter((r) => r.pid !== process.pid || r.startedAt !== this._current.startedAt);
        state.runs.push(this._current);
        state.runs = state.runs.slice(-MAX_RUNS);
      }
      fs.mkdirSync(path.dirname(this.filePath), { recursive: true });
      fs.writeFileSync(this.filePath, JSON.stringify(state));
    } catch {
      // nothing more can be done while exiting
    }
  }
}

/** Whether this instance is the one to announce `change`: the first of its service to claim it in the state directory. */
async function claimAnnouncement(config: ResolvedConfig, change: VersionChange): Promise<boolean> {
  if (!config.onVersionChange) return false;
  try {
    return await claimVersionChange(config.stateDir, config.serviceName, change);
  } catch (err) {
    diag.warn(`WAGGLE_RUNTIME_STATE_WRITE_FAILED: cannot claim ${change.serviceName} ${change.previousVersion} → ${change.version} in ${config.stateDir}`, err);
    return false;
  }
}

async function announce(config: ResolvedConfig, change: VersionChange): Promise<void> {
  try {
    await config.onVersionChange?.(change);
  } catch (err) {
    diag.warn(`WAGGLE_RUNTIME_VERSION_CHANGE_FAILED: could not announce ${change.serviceName} ${change.previousVersion} → ${change.version}`, err);
  }
}

function parseState(text: string, key: string): RestartStateFile {
  const parsed = JSON.parse(text) as Partial<RestartStateFile>;
  if (parsed?.version !== 1 || !Array.isArray(parsed.runs)) return { version: 1, key, runs: [] };
  const runs = parsed.runs.filter(
    (r): r is RunRecord => typeof r === 'object' && r !== null && typeof r.startedAt === 'number',
  );
  return { version: 1, key, runs };
}

async function readState(file: string, key: string): Promise<RestartStateFile> {
  try {
    return parseState(await fs.promises.readFile(file, 'utf8'), key);
  } catch {
    return { version: 1, key, runs: [] }; // first run, or an unreadable file we will overwrite
  }
}

function readStateSync(file: string, key: string): RestartStateFile {
  try {
    return parseState(fs.readFileSync(file, 'utf8'), key);
  } catch {
    return { version: 1, key, runs: [] };
  }
}

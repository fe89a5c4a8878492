import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import * as v8 from 'node:v8';

/**
 * Keeps the runtime counters current from ONE unref'd timer, so span ends only read plain numbers.
 * Values describe the last sampling interval, not the exact span.
 * The only per-span figure is GC pause time, from a monotonic total fed by 'gc' performance entries
 * (entries are delivered asynchronously, so a pause can be attributed a few ms late).
 */
export class RuntimeSampler {
  heapUsedBytes = 0;
  heapLimitBytes = v8.getHeapStatistics().heap_size_limit;
  heapUsedRatio = 0;
  rssBytes = 0;
  eventLoopUtilization = 0;
  eventLoopDelayP99Ms = 0;
  activeHandles = 0;
  /** Monotonic total of GC pause time since start, in ms. */
  gcTotalMs = 0;

  /** Called after each sample (memory pressure bookkeeping, metrics). */
  onSample: (() => void) | undefined;
  /** Called for each GC entry with its duration in ms (metrics histogram). */
  onGc: ((durationMs: number, kind: number) => void) | undefined;

  private _timer: NodeJS.Timeout | undefined;
  private _delay: ReturnType<typeof monitorEventLoopDelay> | undefined;
  private _elu: EventLoopUtilization | undefined;
  private _gcObserver: PerformanceObserver | undefined;

  get running(): boolean {
    return this._timer !== undefined;
  }

  start(intervalMs: number): void {
    if (this._timer) return;
    // 20 ms resolution: enough for a p99 worth alerting on, and few wake-ups.
    this._delay = monitorEventLoopDelay({ resolution: 20 });
    this._delay.enable();
    this._elu = performance.eventLoopUtilization();
    this._gcObserver = new PerformanceObserver((list) => {
      const entries = list.getEntries();
      for (let i = 0; i < entries.length; i++) {
        const entry = entries[i]!;
        this.gcTotalMs += entry.duration;
        this.onGc?.(entry.duration, ((entry as { detail?: { kind?: number } }).detail)?.kind ?? 0);
      }
    });
    this._gcObserver.observe({ entryTypes: ['gc'] });
    this.sample();
    this._timer = setInterval(() => this.sample(), intervalMs);
    this._timer.unref();
  }

  stop(): void {
    if (!this._timer) return;
    clearInterval(this._timer);
    this._timer = undefined;
    this._delay?.disable();
    this._delay = undefined;
    this._gcObserver?.disconnect();
    this._gcObserver = undefined;
  }

  /** Refreshes every counter; runs once per interval. */
  sample(): void {
    try {
      const heap = v8.getHeapStatistics();
      this.heapUsedBytes = heap.used_heap_size;
      this.heapLimitBytes = heap.heap_size_limit;
      this.heapUsedRatio = heap.heap_size_limit > 0 ? heap.used_heap_size / heap.heap_size_limit : 0;
      this.rssBytes = process.memoryUsage.rss();
      if (this._elu) {
        const now = performance.eventLoopUtilization();
        this.eventLoopUtilization = performance.eventLoopUtilization(now, this._elu).utilization;
        this._elu = now;
      }
      if (this._delay) {
        const p99 = this._delay.percentile(99);
        this.eventLoopDelayP99Ms = Number.isFinite(p99) ? p99 / 1e6 : 0;
        this._delay.reset();
      }
      this.activeHandles = process.getActiveResourcesInfo().length;
      this.onSample?.();
    } catch {
      // Telemetry never throws into the host; keep the previous values.
    }
  }
}

/**
 * Retry amplification per upstream: attempts ÷ original requests over a sliding window.
 *
 * The window is split into BUCKETS fixed buckets (a ring per upstream), so recording an attempt is
 * O(1) and reading the ratio is O(BUCKETS); the window slides one bucket at a time. The number of
 * upstreams is bounded: when full, the least recently active one is dropped.
 */

const BUCKETS = 10;

interface UpstreamWindow {
  epochs: Float64Array;
  requests: Uint32Array;
  attempts: Uint32Array;
  /** Last bucket epoch this upstream saw; used to re-insert it in LRU order once per bucket. */
  lastEpoch: number;
  lastWarnMs: number;
}

export interface AmplificationReading {
  amplification: number;
  requests: number;
  attempts: number;
}

export class AmplificationMonitor {
  private readonly upstreams = new Map<string, UpstreamWindow>();
  private readonly bucketMs: number;

  constructor(
    readonly windowMs: number,
    private readonly maxUpstreams: number,
  ) {
    this.bucketMs = windowMs / BUCKETS;
  }

  /** Counts one attempt (an original request when `isOriginal`) and returns the upstream's reading. */
  record(upstream: string, isOriginal: boolean, nowMs: number): AmplificationReading {
    const epoch = Math.floor(nowMs / this.bucketMs);
    const window = this.windowFor(upstream, epoch);
    const slot = epoch % BUCKETS;
    if (window.epochs[slot] !== epoch) {
      window.epochs[slot] = epoch;
      window.requests[slot] = 0;
      window.attempts[slot] = 0;
    }
    window.attempts[slot]! += 1;
    if (isOriginal) window.requests[slot]! += 1;
    return this.sum(window, epoch);
  }

  /** Current reading for one upstream, or undefined when it is not tracked. */
  read(upstream: string, nowMs: number): AmplificationReading | undefined {
    const window = this.upstreams.get(upstream);
    if (window === undefined) return undefined;
    return this.sum(window, Math.floor(nowMs / this.bucketMs));
  }

  /** Readings of every tracked upstream that had attempts in the window (for the metric gauge). */
  *readings(nowMs: number): Generator<[string, AmplificationReading]> {
    const epoch = Math.floor(nowMs / this.bucketMs);
    for (const [upstream, window] of this.upstreams) {
      const reading = this.sum(window, epoch);
      if (reading.attempts > 0) yield [upstream, reading];
    }
  }

  /** True at most once per window per upstream: throttles the stderr warning. */
  shouldWarn(upstream: string, nowMs: number): boolean {
    const window = this.upstreams.get(upstream);
    if (window === undefined) return false;
    if (nowMs - window.lastWarnMs < this.windowMs) return false;
    window.lastWarnMs = nowMs;
    return true;
  }

  get trackedUpstreams(): number {
    return this.upstreams.size;
  }

  private windowFor(upstream: string, epoch: number): UpstreamWindow {
    let window = this.upstreams.get(upstream);
    if (window === undefined) {
      if (this.upstreams.size >= this.maxUpstreams) {
        // Map iteration order is insertion order and active upstreams are re-inserted below,
        // so the first key is the least recently active one.
        const oldest = this.upstreams.keys().next().value;
        if (oldest !== undefined) this.upstreams.delete(oldest);
      }
      window = {
        epochs: new Float64Array(BUCKETS).fill(-1),
        requests: new Uint32Array(BUCKETS),
        attempts: new Uint32Array(BUCKETS),
        lastEpoch: epoch,
        lastWarnMs: Number.NEGATIVE_INFINITY,
      };
      this.upstreams.set(upstream, window);
    } else if (window.lastEpoch !== epoch) {
      window.lastEpoch = epoch;
      this.upstreams.delete(upstream);
      this.upstreams.set(upstream, window);
    }
    return window;
  }

  private sum(window: UpstreamWindow, epoch: number): AmplificationReading {
    let requests = 0;
    let attempts = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const bucketEpoch = window.epochs[i]!;
      if (bucketEpoch > epoch - BUCKETS && bucketEpoch <= epoch) {
        requests += window.requests[i]!;
        attempts += window.attempts[i]!;
      }
    }
    // Attempts with no original request in the window are retries of older requests: count against 1.
    return { amplification: attempts / Math.max(requests, 1), requests, attempts };
  }
}

// Backoff, Retry-After and the circuit breaker: the policy that decides when the next attempt may start.
import type { BackoffOptions, BreakerOptions } from './types.js';

/** Full jitter: a uniformly random wait in [0, min(max, initial * 2^attempt)). */
export function fullJitterDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Parses Retry-After (delta seconds or an HTTP date) into milliseconds from `now`; undefined when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * Opens after `failureThreshold` consecutive failures; while open no attempt starts. After `openMs` one probe is
 * allowed (half-open); its success closes the breaker, its failure reopens it for twice as long (capped).
 */
export class CircuitBreaker {
  state: BreakerState = 'closed';
  private failures = 0;
  private openUntil = 0;
  private currentOpenMs: number;
  private readonly threshold: number;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;

  constructor(options: BreakerOptions = {}) {
    this.threshold = Math.max(1, options.failureThreshold ?? 5);
    this.baseOpenMs = Math.max(0, options.openMs ?? 1000);
    this.currentOpenMs = this.baseOpenMs;
    this.maxOpenMs = Math.max(options.maxOpenMs ?? 4000, this.baseOpenMs);
  }

  /** Milliseconds until an attempt may start (0 = now). Moves open → half-open when the wait is over. */
  waitMs(now: number = Date.now()): number {
    if (this.state !== 'open') return 0;
    if (now >= this.openUntil) {
      this.state = 'half-open';
      return 0;
    }
    return this.openUntil - now;
  }

  success(): void {
    this.state = 'closed';
    this.failures = 0;
    this.currentOpenMs = this.baseOpenMs;
  }

  /** Records a failed attempt; returns true when this failure opened the breaker. */
  failure(now: number = Date.now()): boolean {
    this.failures++;
    if (this.state === 'half-open') {
      this.currentOpenMs = Math.min(this.maxOpenMs, this.currentOpenMs * 2);
      this.open(now);
      return true;
    }
    if (this.state === 'closed' && this.failures >= this.threshold) {
      this.open(now);
      return true;
    }
    return false;
  }

  private open(now: number): void {
    this.state = 'open';
    this.openUntil = now + this.currentOpenMs;
  }
}

export interface ResolvedBackoff {
  initialMs: number;
  maxMs: number;
  maxAttempts: number;
  maxRetryAfterMs: number;
}

export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  return {
    initialMs: Math.max(1, options.initialMs ?? 250),
    maxMs: Math.max(1, options.maxMs ?? 5000),
    maxAttempts: Math.max(1, options.maxAttempts ?? 5),
    maxRetryAfterMs: Math.max(0, options.maxRetryAfterMs ?? 60_000),
  };
}

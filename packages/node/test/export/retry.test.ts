import { describe, expect, it } from 'vitest';
import { CircuitBreaker, fullJitterDelay, parseRetryAfter } from '../../src/export/retry.js';

describe('full-jitter backoff', () => {
  it('waits a uniform random time below min(max, initial * 2^attempt)', () => {
    expect(fullJitterDelay(0, 100, 1000, () => 0.999)).toBe(99);
    expect(fullJitterDelay(3, 100, 1000, () => 0.5)).toBe(400);
    expect(fullJitterDelay(10, 100, 1000, () => 0.999)).toBe(999);
    expect(fullJitterDelay(5, 100, 1000, () => 0)).toBe(0);
  });
});

describe('Retry-After', () => {
  it('reads delta seconds and HTTP dates, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures, allows one probe after openMs, and closes on its success', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, maxOpenMs: 4000 });
    expect(breaker.failure(0)).toBe(false);
    expect(breaker.failure(0)).toBe(false);
    expect(breaker.failure(0)).toBe(true);
    expect(breaker.waitMs(500)).toBe(500);
    expect(breaker.state).toBe('open');
    expect(breaker.waitMs(1000)).toBe(0);
    expect(breaker.state).toBe('half-open');
    breaker.success();
    expect(breaker.state).toBe('closed');
  });

  it('a failed probe reopens it for twice as long, capped at maxOpenMs', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1000, maxOpenMs: 3000 });
    breaker.failure(0);
    breaker.waitMs(1000);
    expect(breaker.failure(1000)).toBe(true);
    expect(breaker.waitMs(1000)).toBe(2000);
    breaker.waitMs(3000);
    breaker.failure(3000);
    expect(breaker.waitMs(3000)).toBe(3000);
  });

  it('a success in between resets the count of consecutive failures', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2 });
    breaker.failure(0);
    breaker.success();
    expect(breaker.failure(0)).toBe(false);
    expect(breaker.state).toBe('closed');
  });
});

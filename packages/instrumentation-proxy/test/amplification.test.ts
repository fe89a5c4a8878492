import { describe, expect, it } from 'vitest';
import { AmplificationMonitor } from '../src/amplification.js';

describe('AmplificationMonitor', () => {
  it('amplification is attempts divided by original requests in the window', () => {
    const monitor = new AmplificationMonitor(10_000, 10);
    const t = 1_000_000;
    for (let i = 0; i < 4; i++) {
      monitor.record('a:1', true, t + i);
      monitor.record('a:1', false, t + i);
      monitor.record('a:1', false, t + i);
    }
    expect(monitor.read('a:1', t + 10)).toEqual({ amplification: 3, requests: 4, attempts: 12 });
  });

  it('the window slides: counts older than the window drop out one bucket at a time', () => {
    const monitor = new AmplificationMonitor(10_000, 10);
    const t = 2_000_000;
    // A burst of retries, then only healthy first attempts.
    for (let i = 0; i < 5; i++) monitor.record('a:1', false, t);
    monitor.record('a:1', true, t);
    monitor.record('a:1', true, t + 5_000);
    expect(monitor.read('a:1', t + 5_000)!.attempts).toBe(7);
    // 10 s after the burst its bucket is out of the window; the request at +5 s is still in.
    expect(monitor.read('a:1', t + 10_000)).toEqual({ amplification: 1, requests: 1, attempts: 1 });
    expect(monitor.read('a:1', t + 15_000)).toEqual({ amplification: 0, requests: 0, attempts: 0 });
  });

  it('a reused ring slot is reset before it is counted again', () => {
    const monitor = new AmplificationMonitor(1_000, 10);
    monitor.record('a:1', true, 0);
    monitor.record('a:1', true, 0);
    // Same slot (epoch 10 → slot 0), one full window later.
    expect(monitor.record('a:1', true, 1_000)).toEqual({ amplification: 1, requests: 1, attempts: 1 });
  });

  it('tracks a bounded number of upstreams and drops the least recently active', () => {
    const monitor = new AmplificationMonitor(10_000, 2);
    monitor.record('a:1', true, 0);
    monitor.record('b:1', true, 1_000);
    monitor.record('a:1', true, 2_000); // a is active again: b is now the oldest
    monitor.record('c:1', true, 3_000);
    expect(monitor.trackedUpstreams).toBe(2);
    expect(monitor.read('b:1', 3_000)).toBeUndefined();
    expect(monitor.read('a:1', 3_000)?.requests).toBe(2);
    expect(monitor.read('c:1', 3_000)?.requests).toBe(1);
  });

  it('the storm warning is allowed at most once per window per upstream', () => {
    const monitor = new AmplificationMonitor(10_000, 10);
    monitor.record('a:1', true, 0);
    monitor.record('b:1', true, 0);
    expect(monitor.shouldWarn('a:1', 0)).toBe(true);
    expect(monitor.shouldWarn('a:1', 9_999)).toBe(false);
    expect(monitor.shouldWarn('b:1', 5_000)).toBe(true);
    expect(monitor.shouldWarn('a:1', 10_000)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { absoluteWindow, binomialTail, DEFAULT_RULES, judge, parseRules, type VersionStats } from '../src/release-compare.js';

/** The tail by definition, summing exact binomial probabilities (small n only). */
function exactTail(k: number, n: number, p: number): number {
  let sum = 0;
  for (let i = k; i <= n; i++) {
    let c = 1;
    for (let j = 1; j <= i; j++) c = (c * (n - i + j)) / j;
    sum += c * p ** i * (1 - p) ** (n - i);
  }
  return sum;
}

describe('binomialTail', () => {
  it('matches the exact sum for small n, and the edges', () => {
    for (const [k, n, p] of [[1, 60, 0.01], [3, 50, 0.01], [2, 10, 0.3], [10, 10, 0.5], [0, 5, 0.2]] as const) {
      expect(binomialTail(k, n, p)).toBeCloseTo(exactTail(k, n, p), 12);
    }
    expect(binomialTail(1, 60, 0.01)).toBeCloseTo(1 - 0.99 ** 60, 12);
    expect(binomialTail(11, 10, 0.5)).toBe(0);
    expect(binomialTail(3, 100, 0)).toBe(0);
  });

  it('neither underflows nor loses a tiny tail for large n', () => {
    // Mean 1000, standard deviation 31.5: 1100 is about 3.2 deviations out (normal tail ≈ 0.0008).
    const p = binomialTail(1100, 100_000, 0.01);
    expect(p).toBeGreaterThan(0.0004);
    expect(p).toBeLessThan(0.0015);
    expect(binomialTail(5000, 100_000, 0.01)).toBeLessThan(1e-100);
    expect(binomialTail(900, 100_000, 0.01)).toBeGreaterThan(0.99);
  });
});

describe('--fail-on rules', () => {
  it('parses the defaults', () => {
    expect(parseRules(DEFAULT_RULES).map((r) => `${r.metric} ${r.kind} ${r.limit}`)).toEqual([
      'p99 ratio 1.5',
      'error_rate pp 1',
      'heap_ratio ratio 1.3',
      'log_ms ratio 2',
      'crashes plus 0',
    ]);
  });

  it.each([
    ['p99=fast', /expected METRIC=LIMIT/],
    ['latency=2x', /expected METRIC=LIMIT/],
    ['p99=0.5x', /a ratio limit is 1x or more/],
    ['p99=+2pp', /percentage points \(pp\) are for error_rate/],
    ['crashes=2', /write a difference with \+, e\.g\. crashes=\+2/],
    ['error_rate=+1', /in percentage points/],
    ['', /needs at least one rule/],
  ])('refuses %j', (text, message) => {
    expect(() => parseRules(text)).toThrow(message);
  });

  it('a ratio rule ignores a difference too small to matter', () => {
    const base: VersionStats = { version: 'v41', count: 500, errors: 0, values: { log_ms: 0.02 } };
    const cand: VersionStats = { version: 'v42', count: 500, errors: 0, values: { log_ms: 0.3 } };
    const [outcome] = judge(parseRules('log_ms=2x'), base, cand, {});
    expect(outcome!.change).toBeCloseTo(15);
    expect(outcome!.status).toBe('ok');
    expect(outcome!.note).toBe('a difference under 0.5 ms does not count');
  });

  it('a rule without data on one side is not judged (n/a), not passed silently', () => {
    const base: VersionStats = { version: 'v41', count: 500, errors: 0, values: {} };
    const cand: VersionStats = { version: 'v42', count: 500, errors: 0, values: { heap_ratio: 0.9 } };
    const [outcome] = judge(parseRules('heap_ratio=1.3x'), base, cand, {});
    expect(outcome!.status).toBe('n/a');
    expect(outcome!.note).toBe('no heap used ratio (P95) for v41');
  });
});

describe('the comparison window', () => {
  it('is fixed once, so every query of one comparison reads the same requests', () => {
    expect(absoluteWindow({ time_range: 1800 }, 10_000)).toEqual({ start_time: 8200, end_time: 10_000 });
    expect(absoluteWindow({ start_time: 100, time_range: 60 }, 10_000)).toEqual({ start_time: 100, end_time: 160 });
    expect(absoluteWindow({ end_time: 5000, time_range: 60 }, 10_000)).toEqual({ start_time: 4940, end_time: 5000 });
    expect(absoluteWindow({ start_time: 1, end_time: 2 }, 10_000)).toEqual({ start_time: 1, end_time: 2 });
  });
});

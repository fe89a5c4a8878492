import { describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../src/index.js';

describe('waitFor', () => {
  it('polls until the probe returns a truthy value and resolves with it', async () => {
    let calls = 0;
    const value = await waitFor('the third call', () => ++calls >= 3 && { calls }, { intervalMs: 5 });
    expect(value).toEqual({ calls: 3 });
  });

  it('rejects naming what it waited for after the timeout', async () => {
    await expect(waitFor('a span that never comes', () => false, { timeoutMs: 100, intervalMs: 10 })).rejects.toThrow(
      'waitFor: timed out after 100 ms waiting for a span that never comes',
    );
  });

  it('rejects at once with the error the probe throws', async () => {
    const started = Date.now();
    await expect(waitFor('x', () => { throw new RangeError('probe broke'); })).rejects.toThrow(RangeError);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('uniqueName', () => {
  it('starts with the label and differs on every call, even within one millisecond', () => {
    const names = Array.from({ length: 50 }, () => uniqueName('jobs.signup'));
    expect(new Set(names).size).toBe(50);
    for (const name of names) expect(name).toMatch(new RegExp(`^jobs\\.signup-${process.pid}-[0-9a-z]+-\\d+$`));
  });
});

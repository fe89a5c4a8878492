import { describe, expect, it } from 'vitest';
import { ProxyInstrumentation } from '../src/index.js';

describe('configuration', () => {
  it('defaults need no options', () => {
    const instrumentation = new ProxyInstrumentation({ enabled: false });
    expect(instrumentation.getConfig().enabled).toBe(false);
  });

  it.each([
    [{ amplificationThreshold: 1 }, /amplificationThreshold must be a number > 1/],
    [{ amplificationThreshold: 'high' }, /amplificationThreshold must be a number > 1.*got "high"/],
    [{ amplificationWindowMs: 50 }, /amplificationWindowMs must be a number of milliseconds >= 100, got 50/],
    [{ amplificationMinRequests: 0 }, /amplificationMinRequests must be a positive integer/],
    [{ maxTrackedUpstreams: -1 }, /maxTrackedUpstreams must be a positive integer/],
    [{ warnOnRetryStorm: 'yes' }, /warnOnRetryStorm must be true or false/],
  ])('rejects %o with a WAGGLE_PROXY_CONFIG_INVALID error naming the option', (config, message) => {
    expect(() => new ProxyInstrumentation({ enabled: false, ...(config as object) })).toThrow(/^WAGGLE_PROXY_CONFIG_INVALID: /);
    expect(() => new ProxyInstrumentation({ enabled: false, ...(config as object) })).toThrow(message);
  });

  it('null means the default', () => {
    expect(() => new ProxyInstrumentation({ enabled: false, amplificationThreshold: null, warnOnRetryStorm: null })).not.toThrow();
  });
});

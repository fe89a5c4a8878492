import { context, ROOT_CONTEXT } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { AmplificationMonitor } from '../src/amplification.js';
import { AttemptRecorder } from '../src/upstream-attempts.js';
import { parseOrigin } from '../src/utils.js';

const recorder = () =>
  new AttemptRecorder(
    () => undefined as never,
    () => ({ add() {} }),
    new AmplificationMonitor(10_000, 10),
    { threshold: 2, minRequests: 10, warn: false },
    () => {},
  );

describe('attempt state per incoming request', () => {
  it('is found again for the same request, so resend counts continue across proxy calls', () => {
    const r = recorder();
    const request = {};
    const state = r.stateFor(request, context.active(), 'active');
    state.attempts = 2;
    expect(r.stateFor(request, ROOT_CONTEXT, 'active')).toBe(state);
    expect(r.stateFor({}, ROOT_CONTEXT, 'active')).not.toBe(state);
  });

  it('is kept for a request object that cannot take a property (frozen)', () => {
    const r = recorder();
    const request = Object.freeze({});
    const state = r.stateFor(request, ROOT_CONTEXT, 'active');
    expect(r.stateFor(request, ROOT_CONTEXT, 'active')).toBe(state);
    expect(r.stateFor(Object.freeze({}), ROOT_CONTEXT, 'active')).not.toBe(state);
  });
});

describe('origin parsing', () => {
  it.each([
    ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
    [new URL('https://example.com/some/path'), 'https://example.com'],
  ])('%s gives the url.full prefix %s', (origin, prefix) => {
    expect(parseOrigin(origin)?.prefix).toBe(prefix);
  });
});

// Without any SDK the API must do nothing, cost little and never throw.
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { addFields, addTraceFields, timer, traced, withSpan } from '../src/index.js';
import { applyMethodDecorator } from './setup-sdk.js';

describe('without an SDK', () => {
  it('runs the function and returns its value; spans are non-recording', async () => {
    trace.disable();
    expect(withSpan('x', (span) => span.isRecording())).toBe(false);
    expect(await withSpan('y', async () => 'done')).toBe('done');
  });

  it('still rethrows errors unchanged', async () => {
    const err = new Error('boom');
    expect(() => withSpan('x', () => { throw err; })).toThrow(err);
    await expect(withSpan('y', async () => { throw err; })).rejects.toBe(err);
  });

  it('addFields, addTraceFields and timer are silent no-ops', () => {
    expect(() => addFields({ a: { b: 1 } })).not.toThrow();
    expect(() => addTraceFields({ tenant: 'x' })).not.toThrow();
    expect(typeof timer('t').stop()).toBe('number');
  });

  it('the traced decorator still calls the method', () => {
    class A {
      f(x: number) {
        return x + 1;
      }
    }
    applyMethodDecorator(A, 'f', traced());
    expect(new A().f(1)).toBe(2);
  });
});

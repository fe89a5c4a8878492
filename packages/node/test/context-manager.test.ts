// Waggle's context manager and its prototype-method contexts.
import { context, createContextKey, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAGGLE_ROOT_CONTEXT, WaggleContext, WaggleContextManager } from '../src/context-manager.js';

const KEY = createContextKey('test key');
const OTHER = createContextKey('other key');

/** Own properties that are functions: BaseContext has three per context; the lean context has none. */
const ownFunctions = (ctx: Context): string[] =>
  Object.getOwnPropertyNames(ctx).filter((name) => typeof (ctx as unknown as Record<string, unknown>)[name] === 'function');

describe('WaggleContext', () => {
  it('is immutable: setValue and deleteValue return new contexts and leave the original as it was', () => {
    const one = WAGGLE_ROOT_CONTEXT.setValue(KEY, 1);
    const two = one.setValue(OTHER, 2);
    const without = two.deleteValue(KEY);
    expect(WAGGLE_ROOT_CONTEXT.getValue(KEY)).toBeUndefined();
    expect(one.getValue(KEY)).toBe(1);
    expect(one.getValue(OTHER)).toBeUndefined();
    expect([two.getValue(KEY), two.getValue(OTHER)]).toEqual([1, 2]);
    expect([without.getValue(KEY), without.getValue(OTHER)]).toEqual([undefined, 2]);
  });

  it('works with the API helpers that store spans and read them back', () => {
    const span = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    const ctx = trace.setSpan(WAGGLE_ROOT_CONTEXT, span);
    expect(ctx).toBeInstanceOf(WaggleContext);
    expect(trace.getSpan(ctx)).toBe(span);
    expect(trace.getSpan(trace.deleteSpan(ctx))).toBeUndefined();
  });

  it('keeps its methods on the prototype, not as closures on every context', () => {
    expect(ownFunctions(WAGGLE_ROOT_CONTEXT.setValue(KEY, 1))).toEqual([]);
    // The API's BaseContext, for contrast: the reason this class exists.
    expect(ownFunctions(ROOT_CONTEXT.setValue(KEY, 1)).toSorted()).toEqual(['deleteValue', 'getValue', 'setValue']);
  });
});

describe('WaggleContextManager', () => {
  let manager: WaggleContextManager;
  beforeAll(() => {
    manager = new WaggleContextManager().enable();
    context.setGlobalContextManager(manager);
  });
  afterAll(() => context.disable());

  it('with nothing active returns the lean root, so contexts derived from context.active() are lean too', () => {
    expect(context.active()).toBe(WAGGLE_ROOT_CONTEXT);
    const derived = context.active().setValue(KEY, 'v');
    expect(derived).toBeInstanceOf(WaggleContext);
    expect(ownFunctions(derived)).toEqual([]);
  });

  it('makes a context active inside with() and across awaits, and restores the previous one after', async () => {
    const ctx = WAGGLE_ROOT_CONTEXT.setValue(KEY, 'inside');
    const seen = await context.with(ctx, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return context.active().getValue(KEY);
    });
    expect(seen).toBe('inside');
    expect(context.active().getValue(KEY)).toBeUndefined();
  });

  it('accepts contexts of other implementations (the API ROOT_CONTEXT and what derives from it)', () => {
    const foreign = ROOT_CONTEXT.setValue(KEY, 'foreign');
    expect(context.with(foreign, () => context.active().getValue(KEY))).toBe('foreign');
  });

  it('enterWith makes a context active for the rest of the current async execution', async () => {
    const seen = await new Promise((resolve) => {
      setImmediate(() => {
        manager.enterWith(WAGGLE_ROOT_CONTEXT.setValue(KEY, 'entered'));
        setImmediate(() => resolve(context.active().getValue(KEY)));
      });
    });
    expect(seen).toBe('entered');
    expect(context.active().getValue(KEY)).toBeUndefined();
  });
});

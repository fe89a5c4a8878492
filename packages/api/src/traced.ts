// traced: a standard (TC39, TypeScript 5+) method decorator built on withSpan().
import { withSpan } from './with-span.js';
import type { WithSpanOptions } from './types.js';

type Method<This, Args extends unknown[], Return> = (this: This, ...args: Args) => Return;

/**
 * Wraps a method in a span named `<Class>.<method>` (or `name` when given).
 * Example: `class Billing { @traced() async charge(order) { … } }`.
 */
export function traced(name?: string, options: WithSpanOptions = {}) {
  return function <This, Args extends unknown[], Return>(
    method: Method<This, Args, Return>,
    context: ClassMethodDecoratorContext<This, Method<This, Args, Return>>,
  ): Method<This, Args, Return> {
    const methodName = String(context.name);
    return function (this: This, ...args: Args): Return {
      const owner = context.static
        ? (this as { name?: string }).name
        : (this as object | null)?.constructor?.name;
      const spanName = name ?? (owner ? `${owner}.${methodName}` : methodName);
      return withSpan(spanName, () => method.apply(this, args), options);
    };
  };
}

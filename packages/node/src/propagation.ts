// W3C trace context plus a baggage propagator that also carries allow-listed trace fields downstream.
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter } from '@opentelemetry/api';
import type { TraceFieldRegistry } from './span-processors.js';
import { api, core } from './otel.js';

const { propagation, trace } = api;
const { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } = core;

/**
 * Baggage, plus trace fields: on inject, allow-listed fields of the active trace are added as baggage entries
 * (`tenant.id=acme`); on extract, allow-listed baggage entries become trace fields of the incoming trace.
 * Names outside the allow-list never leave or enter, so nothing leaks by accident.
 */
export class TraceFieldBaggagePropagator implements TextMapPropagator {
  private readonly baggage = new W3CBaggagePropagator();
  private readonly allowed: Set<string>;

  constructor(
    private readonly registry: TraceFieldRegistry,
    allowList: string[],
  ) {
    this.allowed = new Set(allowList);
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    let ctx = context;
    const traceId = this.allowed.size > 0 ? trace.getSpanContext(context)?.traceId : undefined;
    const fields = traceId !== undefined ? this.registry.get(traceId) : undefined;
    if (fields !== undefined) {
      let bag = propagation.getBaggage(context) ?? propagation.createBaggage();
      for (const name of this.allowed) {
        const value = fields[name];
        if (value !== undefined && !Array.isArray(value)) bag = bag.setEntry(name, { value: String(value) });
      }
      ctx = propagation.setBaggage(context, bag);
    }
    this.baggage.inject(ctx, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const ctx = this.baggage.extract(context, carrier, getter);
    if (this.allowed.size === 0) return ctx;
    const bag = propagation.getBaggage(ctx);
    const traceId = trace.getSpanContext(ctx)?.traceId;
    if (bag === undefined || traceId === undefined) return ctx;
    const fields: Record<string, string> = {};
    let any = false;
    for (const name of this.allowed) {
      const entry = bag.getEntry(name);
      if (entry !== undefined) {
        fields[name] = entry.value;
        any = true;
      }
    }
    if (any) this.registry.add(traceId, fields);
    return ctx;
  }

  fields(): string[] {
    return this.baggage.fields();
  }
}

/** The propagator for OTEL_PROPAGATORS names (tracecontext, baggage); trace context always comes first. */
export function createPropagator(names: string[], registry: TraceFieldRegistry, allowList: string[]): TextMapPropagator {
  const propagators: TextMapPropagator[] = [];
  if (names.includes('tracecontext')) propagators.push(new W3CTraceContextPropagator());
  if (names.includes('baggage')) propagators.push(new TraceFieldBaggagePropagator(registry, allowList));
  return new CompositePropagator({ propagators });
}

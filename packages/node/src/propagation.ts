// W3C trace context plus a baggage propagator that also carries allow-listed trace fields downstream.
import type { Context, TextMapGetter, TextMapPropagator, TextMapSetter, TraceState } from '@opentelemetry/api';
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

/** Distinct `tracestate` headers whose parsed TraceState is kept (cleared when full). */
const TRACE_STATES_KEPT = 256;

/**
 * W3C trace context whose TraceStates are parsed once per distinct header, not once per request. A service's
 * callers send the same few `tracestate` values (Waggle's sampler writes `waggle=sr:<rate>`), and the parent-based
 * sampler reads it on every incoming request: the parse (split, two regexes per member, a Map) was ~4 µs per
 * request in the proxy bench's profile. TraceState is immutable, so a parsed one can be shared; its serialization
 * on inject is kept the same way.
 */
export class TraceContextPropagator extends W3CTraceContextPropagator {
  private readonly parsed = new Map<string, TraceState>();
  private readonly serialized = new WeakMap<TraceState, string>();

  override inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(context);
    const state = spanContext?.traceState;
    if (spanContext === undefined || state === undefined) return super.inject(context, carrier, setter);
    // As W3CTraceContextPropagator.inject, with the serialized tracestate kept.
    if (core.isTracingSuppressed(context) || !api.isSpanContextValid(spanContext)) return;
    setter.set(carrier, 'traceparent', `00-${spanContext.traceId}-${spanContext.spanId}-0${Number(spanContext.traceFlags || 0).toString(16)}`);
    let text = this.serialized.get(state);
    if (text === undefined) {
      text = state.serialize();
      this.serialized.set(state, text);
    }
    setter.set(carrier, 'tracestate', text);
  }

  override extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const extracted = super.extract(context, carrier, getter);
    const spanContext = extracted === context ? undefined : trace.getSpanContext(extracted);
    const state = spanContext?.traceState;
    if (spanContext === undefined || state === undefined) return extracted;
    const header = getter.get(carrier, 'tracestate');
    const raw = Array.isArray(header) ? header.join(',') : header;
    if (typeof raw !== 'string') return extracted;
    const known = this.parsed.get(raw);
    if (known !== undefined) {
      // The span context was made by this extract call alone: giving it the shared TraceState changes no one else's.
      spanContext.traceState = known;
    } else {
      if (this.parsed.size >= TRACE_STATES_KEPT) this.parsed.clear();
      this.parsed.set(raw, state);
    }
    return extracted;
  }
}

/** The propagator for OTEL_PROPAGATORS names (tracecontext, baggage); trace context always comes first. */
export function createPropagator(names: string[], registry: TraceFieldRegistry, allowList: string[]): TextMapPropagator {
  const propagators: TextMapPropagator[] = [];
  if (names.includes('tracecontext')) propagators.push(new TraceContextPropagator());
  if (names.includes('baggage')) propagators.push(new TraceFieldBaggagePropagator(registry, allowList));
  return new CompositePropagator({ propagators });
}

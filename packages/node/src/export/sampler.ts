// Deterministic, parent-based 1/N trace sampling. The decision hashes the trace id exactly like Honeycomb's
// deterministic sampler (SHA-1 of the hex trace id, first 4 bytes big-endian <= 2^32-1 / N), so a Waggle service,
// a Beeline service and Refinery agree on which traces are kept and counts re-weight by SampleRate the same way.
import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import type { TraceState as TraceStateType } from '@opentelemetry/core';
import type { Sampler, SamplingDecision as SamplingDecisionType, SamplingResult } from '@opentelemetry/sdk-trace';
import type { SamplingOptions, SamplingRule } from './types.js';
import { api, core, sdkTrace } from '../otel.js';

const { isSpanContextValid, trace, TraceFlags } = api;
const { TraceState } = core;
const { SamplingDecision } = sdkTrace;
type TraceState = TraceStateType;
type SamplingDecision = SamplingDecisionType;

const MAX_UINT32 = 2 ** 32 - 1;
// Loaded at the first sampled decision, not at startup (node:crypto costs about 7 ms to load).
let crypto: typeof import('node:crypto') | undefined;
/** tracestate member carrying the rate of the trace to child spans in this and downstream services. */
const TRACESTATE_KEY = 'waggle';

/** Honeycomb's deterministic decision for one trace id at 1/rate. */
export function honeycombKeeps(traceId: string, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate === 1) return true;
  const upperBound = Math.floor(MAX_UINT32 / rate);
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto.createHash('sha1').update(traceId).digest().readUInt32BE(0) <= upperBound;
}

function matches(pattern: string | RegExp | undefined, value: unknown): boolean {
  if (pattern === undefined) return true;
  if (typeof value !== 'string') return false;
  return typeof pattern === 'string' ? pattern === value : pattern.test(value);
}

function rateFromTraceState(state: { get(key: string): string | undefined } | undefined): number | undefined {
  const raw = state?.get(TRACESTATE_KEY);
  if (!raw?.startsWith('sr:')) return undefined;
  const rate = Number(raw.slice(3));
  return Number.isInteger(rate) && rate >= 0 ? rate : undefined;
}

class DeterministicSampler implements Sampler {
  private readonly rate: number;
  private readonly rules: SamplingRule[];
  private readonly serviceName: string | undefined;
  /** With a tail policy, unsampled spans are still recorded (not exported) so errors and slow spans can be kept. */
  private readonly unsampledDecision: SamplingDecision;
  private readonly attributesByRate = new Map<number, Readonly<Attributes>>();
  // TraceState is immutable; building one per root span cost ~2.5 µs per request in the overhead bench's profile.
  private readonly traceStateByRate = new Map<number, TraceState>();

  constructor(options: SamplingOptions) {
    this.rate = options.rate ?? 1;
    this.rules = options.rules ?? [];
    this.serviceName = options.serviceName;
    const tail = options.keepErrors === true || options.keepSlowerThanMs !== undefined;
    this.unsampledDecision = tail ? SamplingDecision.RECORD : SamplingDecision.NOT_RECORD;
  }

  shouldSample(ctx: Context, traceId: string, spanName: string, _kind: SpanKind, attributes: Attributes, _links: Link[]): SamplingResult {
    const parent = trace.getSpanContext(ctx);
    if (parent && isSpanContextValid(parent)) {
      if ((parent.traceFlags & TraceFlags.SAMPLED) === 0) return { decision: this.unsampledDecision };
      const rate = rateFromTraceState(parent.traceState);
      // A sampled parent without our tracestate was sampled upstream at an unknown rate: record no SampleRate.
      return rate === undefined ? { decision: SamplingDecision.RECORD_AND_SAMPLED } : { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: this.attributesFor(rate) };
    }
    const rate = this.rateFor(spanName, attributes);
    const traceState = this.traceStateFor(rate);
    if (!honeycombKeeps(traceId, rate)) return { decision: this.unsampledDecision, traceState };
    return { decision: SamplingDecision.RECORD_AND_SAMPLED, attributes: this.attributesFor(rate), traceState };
  }

  private rateFor(spanName: string, attributes: Attributes): number {
    const route = attributes['http.route'] ?? attributes['url.path'] ?? attributes['http.target'];
    for (const rule of this.rules) {
      if (rule.service !== undefined && rule.service !== this.serviceName) continue;
      if (!matches(rule.route, route) || !matches(rule.spanName, spanName)) continue;
      return rule.rate;
    }
    return this.rate;
  }

  private traceStateFor(rate: number): TraceState {
    let state = this.traceStateByRate.get(rate);
    if (!state) {
      state = new TraceState().set(TRACESTATE_KEY, `sr:${rate}`);
      this.traceStateByRate.set(rate, state);
    }
    return state;
  }

  private attributesFor(rate: number): Readonly<Attributes> {
    let attrs = this.attributesByRate.get(rate);
    if (!attrs) {
      attrs = Object.freeze({ SampleRate: rate });
      this.attributesByRate.set(rate, attrs);
    }
    return attrs;
  }

  toString(): string {
    return `WaggleDeterministicSampler{rate=${this.rate}, rules=${this.rules.length}}`;
  }
}

function checkRate(rate: number, where: string): void {
  if (!Number.isInteger(rate) || rate < 0) throw new TypeError(`${where} must be a whole number >= 0 (1 keeps every trace, 10 keeps 1 in 10, 0 keeps none); got ${String(rate)}`);
}

/**
 * The sampler to give the TracerProvider.
 * @example new TracerProvider({ sampler: createSampler({ rate: 10, rules: [{ route: '/health', rate: 0 }] }) })
 */
export function createSampler(options: SamplingOptions = {}): Sampler {
  checkRate(options.rate ?? 1, 'sampling.rate');
  (options.rules ?? []).forEach((rule, i) => checkRate(rule.rate, `sampling.rules[${i}].rate`));
  if (options.keepSlowerThanMs !== undefined && !(options.keepSlowerThanMs >= 0)) {
    throw new TypeError(`sampling.keepSlowerThanMs must be a number of milliseconds >= 0; got ${String(options.keepSlowerThanMs)}`);
  }
  return new DeterministicSampler(options);
}

// Linked traces read as one story. A queue consumer that starts a trace of its own (BullMQ's and amqplib's default,
// pg-boss batches) links back to the span that sent the message; shown alone, one request is three traces. Here
// each linked trace hangs under the span it links to, whichever of the traces was asked for. Pure, so the CLI
// (either target) and the web UI order a story the same way.

export interface StoryLink {
  traceId: string;
  spanId: string;
}

/** What the story needs of a span; the caller's span type carries whatever else it shows. */
export interface StorySpan {
  spanId: string;
  /** Depth in its own trace (0 for a root). */
  depth: number;
  startMs: number | null;
  durationMs: number;
  links: StoryLink[];
  /** `waggle.queue.wait_ms` when the consumer recorded it. */
  queueWaitMs?: number | null;
}

/** A trace's spans in waterfall order (parents before children). */
export interface StoryTrace<S extends StorySpan> {
  traceId: string;
  spans: S[];
}

/** How a linked trace joins the story; set on its first row. */
export interface StoryJoin {
  /** The span of this trace that holds the link (a consumer's process span). */
  viaSpanId: string;
  /** The trace and span it links to (the producer's send span); null when that span is not in the story. */
  toTraceId: string | null;
  toSpanId: string | null;
  /** How long the message waited: the consumer's recorded queue wait, else from the end of the send to its start. */
  waitMs: number | null;
}

export interface StoryRow<S extends StorySpan> {
  span: S;
  traceId: string;
  /** Depth in the story: a linked trace's spans are one deeper than the span they hang under. */
  depth: number;
  join?: StoryJoin;
}

const spanKey = (traceId: string, spanId: string) => `${traceId}/${spanId}`;

/** How many linked traces a story follows at most, so a fan-out of thousands of jobs stays readable. */
export const MAX_LINKED_TRACES = 20;

/** Trace ids a trace links to (its consumers' producers), other than itself. */
export function linkedTraceIds<S extends StorySpan>(trace: StoryTrace<S>): string[] {
  const ids = new Set<string>();
  for (const s of trace.spans) for (const l of s.links) if (l.traceId && l.traceId !== trace.traceId) ids.add(l.traceId);
  return [...ids];
}

/**
 * Orders the requested trace and the traces linked to or from it as one waterfall: starting from the trace nothing
 * it links to explains (the request), each linked trace follows the span it links to, one level deeper. Linked
 * traces that hang under no span of the story (a batch's other senders) follow at the end, at depth 0.
 */
export function tellStory<S extends StorySpan>(requested: string, traces: ReadonlyArray<StoryTrace<S>>): Array<StoryRow<S>> {
  const byId = new Map(traces.map((t) => [t.traceId, t]));
  const spans = new Map<string, S>();
  for (const t of traces) for (const s of t.spans) spans.set(spanKey(t.traceId, s.spanId), s);

  // Each trace hangs under the first span (in waterfall order, so the root's link first) it links to in the story.
  const hangsUnder = new Map<string, { traceId: string; span: S; via: S }>();
  const hanging = new Map<string, string[]>();
  for (const t of traces) {
    for (const via of t.spans) {
      const target = via.links.find((l) => l.traceId !== t.traceId && spans.has(spanKey(l.traceId, l.spanId)));
      if (!target) continue;
      hangsUnder.set(t.traceId, { traceId: target.traceId, span: spans.get(spanKey(target.traceId, target.spanId))!, via });
      const k = spanKey(target.traceId, target.spanId);
      hanging.set(k, [...(hanging.get(k) ?? []), t.traceId]);
      break;
    }
  }

  let top = requested;
  const climbed = new Set<string>();
  while (hangsUnder.has(top) && !climbed.has(top)) {
    climbed.add(top);
    top = hangsUnder.get(top)!.traceId;
  }

  const rows: Array<StoryRow<S>> = [];
  const emitted = new Set<string>();
  const emit = (traceId: string, base: number, join: StoryJoin | undefined): void => {
    const t = byId.get(traceId);
    if (!t || emitted.has(traceId)) return;
    emitted.add(traceId);
    // A linked trace follows the whole subtree of the span it hangs under (the send's own SQL first, then the job).
    const open: S[] = [];
    const close = (depth: number) => {
      while (open.length > 0 && open.at(-1)!.depth >= depth) {
        const span = open.pop()!;
        for (const child of hanging.get(spanKey(traceId, span.spanId)) ?? []) {
          const { via } = hangsUnder.get(child)!;
          emit(child, base + span.depth + 1, { viaSpanId: via.spanId, toTraceId: traceId, toSpanId: span.spanId, waitMs: waitBetween(span, via) });
        }
      }
    };
    t.spans.forEach((span, i) => {
      close(span.depth);
      rows.push({ span, traceId, depth: base + span.depth, ...(i === 0 && join ? { join } : {}) });
      open.push(span);
    });
    close(-1);
  };
  emit(top, 0, undefined);
  for (const t of traces) {
    if (emitted.has(t.traceId)) continue;
    const via = t.spans.find((s) => s.links.length > 0);
    emit(t.traceId, 0, { viaSpanId: via?.spanId ?? t.spans[0]?.spanId ?? '', toTraceId: null, toSpanId: null, waitMs: null });
  }
  return rows;
}

function waitBetween(producer: StorySpan, consumer: StorySpan): number | null {
  if (typeof consumer.queueWaitMs === 'number') return consumer.queueWaitMs;
  if (producer.startMs === null || consumer.startMs === null) return null;
  return Math.max(0, consumer.startMs - (producer.startMs + producer.durationMs));
}

/** How a client reads traces: one trace by id, and the ids of traces whose spans link to a trace. */
export interface StorySource<T extends StoryTrace<StorySpan>> {
  fetch(traceId: string): Promise<T | undefined>;
  linkingTo(trace: T, limit: number): Promise<string[]>;
}

/**
 * The requested trace and the traces linked to or from it, transitively (a job that enqueues another job), up to
 * `max` linked traces; `truncated` when there were more.
 */
export async function collectLinkedTraces<T extends StoryTrace<StorySpan>>(
  first: T,
  source: StorySource<T>,
  max = MAX_LINKED_TRACES,
): Promise<{ traces: T[]; truncated: boolean }> {
  const traces = [first];
  const seen = new Set([first.traceId]);
  let truncated = false;
  for (let i = 0; i < traces.length && !truncated; i++) {
    const current = traces[i]!;
    const candidates = [...linkedTraceIds(current), ...(await source.linkingTo(current, max + 1))];
    for (const id of candidates) {
      if (seen.has(id)) continue;
      seen.add(id);
      if (traces.length > max) {
        truncated = true;
        break;
      }
      const linked = await source.fetch(id);
      if (linked && linked.spans.length > 0) traces.push(linked);
    }
  }
  return { traces, truncated };
}

/** How long after a trace its jobs are looked for. */
const LINKED_WITHIN_SECONDS = 86_400;

/** A Query Data API spec, typed narrowly so each client's own spec type accepts it. */
export interface LinkingQuery {
  calculations: Array<{ op: string }>;
  filters: Array<{ column: string; op: string; value: string }>;
  breakdowns: string[];
  start_time: number;
  end_time: number;
  granularity: number;
  limit: number;
}

/**
 * The query (on dataset `__all__`, either target) that finds traces whose spans link to `trace`: its link
 * annotations, by `trace.link.trace_id`, from when the trace started to a day later. Undefined without start times.
 */
export function linkingQuery(trace: StoryTrace<StorySpan>, limit: number, nowMs = Date.now()): LinkingQuery | undefined {
  const starts = trace.spans.map((s) => s.startMs).filter((t): t is number => t !== null);
  if (starts.length === 0) return undefined;
  const from = Math.floor(Math.min(...starts) / 1000) - 60;
  const to = Math.min(Math.floor(nowMs / 1000) + 60, from + LINKED_WITHIN_SECONDS);
  return {
    calculations: [{ op: 'COUNT' }],
    filters: [{ column: 'trace.link.trace_id', op: '=', value: trace.traceId }],
    breakdowns: ['trace.trace_id'],
    start_time: from,
    end_time: to,
    // Honeycomb allows at most 1000 buckets.
    granularity: Math.ceil((to - from) / 1000),
    limit,
  };
}

/** The trace ids in a result of {@link linkingQuery}, other than the trace itself. */
export function linkingTraceIds(traceId: string, results: ReadonlyArray<{ data: Record<string, unknown> }>): string[] {
  return results.map((r) => String(r.data['trace.trace_id'] ?? '')).filter((id) => id !== '' && id !== traceId);
}

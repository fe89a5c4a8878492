// The trace-completeness report: where tracing has gaps. A pure function over the few columns it needs, so
// the backend (rows from DuckDB) and the CLI's Honeycomb target (rows from breakdown queries) share it.

export interface GapSpan {
  traceId: string;
  spanId: string;
  /** null for a root span. */
  parentId: string | null;
  service: string;
  /** Lowercase OTel kind name: server, client, producer, consumer, internal. */
  kind: string;
  name: string;
  timeMs: number;
  /** For client spans: server.address[:port]; for producer and consumer spans: the messaging destination. */
  peer?: string | null;
  /** Who called, when the server span knows (client.address, network.peer.address). */
  caller?: string | null;
  /** True for client spans to things that never send spans themselves (databases, caches). */
  external?: boolean;
  /** False for a call that got no response (connection refused, timeout): no callee span can exist for it. */
  reached?: boolean;
}

export interface OrphanGroup {
  service: string;
  name: string;
  caller: string | null;
  count: number;
  exampleTraceId: string;
}

export interface MissingHop {
  /** The calling service. */
  service: string;
  /** The callee as the caller named it: server.address[:port] or the messaging destination. */
  peer: string;
  kind: 'client' | 'producer';
  count: number;
  exampleTraceId: string;
}

export interface EdgeCoverage {
  from: string;
  /** The callee service when any call reached an instrumented service, otherwise the peer address. */
  to: string;
  peer: string;
  calls: number;
  covered: number;
  /** 0–100. */
  coveragePercent: number;
  exampleTraceId: string;
}

export interface SilentService {
  service: string;
  lastSeen: string;
  spans: number;
}

export interface GapsReport {
  window: { start: string; end: string };
  spans: number;
  traces: number;
  orphanSpans: OrphanGroup[];
  missingHops: MissingHop[];
  rootlessTraces: { count: number; exampleTraceIds: string[] };
  edges: EdgeCoverage[];
  silentServices: SilentService[];
}

/** A link from a span (a batch consumer, a job started as a new root) to the span that caused it. */
export interface GapLink {
  /** The service of the linking span. */
  fromService: string;
  toSpanId: string;
}

export interface GapsOptions {
  startMs: number;
  endMs: number;
  /** Spans newer than this before `endMs` may still be in flight: their traces are left out. Default 5 s. */
  settleMs?: number;
  /** A service is silent when its last span is older than this before the newest span overall. Default 60 s. */
  silenceMs?: number;
}

const CALLEE_KINDS = new Set(['server', 'consumer']);
const byCount = <T extends { count: number }>(a: T, b: T) => b.count - a.count;

export function computeGaps(input: Iterable<GapSpan>, options: GapsOptions, links: Iterable<GapLink> = []): GapsReport {
  // A consumer that links back to the producer (batch receive, a job run as a new trace) covers that hop too.
  const linkedFrom = new Map<string, string>();
  for (const l of links) linkedFrom.set(l.toSpanId, l.fromService);
  const settleMs = options.settleMs ?? 5_000;
  const silenceMs = options.silenceMs ?? 60_000;
  const traces = new Map<string, GapSpan[]>();
  const lastSeen = new Map<string, { timeMs: number; spans: number }>();
  let newest = -Infinity;
  let spanCount = 0;
  for (const s of input) {
    spanCount++;
    newest = Math.max(newest, s.timeMs);
    const seen = lastSeen.get(s.service);
    if (!seen) lastSeen.set(s.service, { timeMs: s.timeMs, spans: 1 });
    else {
      seen.timeMs = Math.max(seen.timeMs, s.timeMs);
      seen.spans++;
    }
    let list = traces.get(s.traceId);
    if (!list) traces.set(s.traceId, (list = []));
    list.push(s);
  }

  const orphans = new Map<string, OrphanGroup>();
  const hops = new Map<string, MissingHop>();
  const edges = new Map<string, EdgeCoverage & { callees: Map<string, number> }>();
  const rootless: string[] = [];
  let rootlessCount = 0;
  let settledTraces = 0;
  const settleLine = options.endMs - settleMs;

  // A queue that an instrumented consumer reads: its messages not yet consumed in the window are waiting in the
  // queue, not crossing an uninstrumented hop.
  const consumed = new Set<string>();
  for (const list of traces.values()) for (const s of list) if (s.kind === 'consumer' && s.peer) consumed.add(s.peer);

  for (const [traceId, spans] of traces) {
    // A trace whose latest span is very recent may still be arriving: judging it now would report false gaps.
    if (spans.some((s) => s.timeMs > settleLine)) continue;
    settledTraces++;
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const childrenOf = new Map<string, GapSpan[]>();
    let hasRoot = false;
    for (const s of spans) {
      if (!s.parentId) {
        hasRoot = true;
        continue;
      }
      let kids = childrenOf.get(s.parentId);
      if (!kids) childrenOf.set(s.parentId, (kids = []));
      kids.push(s);
      if (!byId.has(s.parentId)) {
        const key = `${s.service}\u0000${s.name}\u0000${s.caller ?? ''}`;
        const g = orphans.get(key);
        if (g) g.count++;
        else orphans.set(key, { service: s.service, name: s.name, caller: s.caller ?? null, count: 1, exampleTraceId: traceId });
      }
    }
    if (!hasRoot) {
      rootlessCount++;
      if (rootless.length < 5) rootless.push(traceId);
    }
    for (const s of spans) {
      if ((s.kind !== 'client' && s.kind !== 'producer') || s.external || s.reached === false || !s.peer) continue;
      const child = (childrenOf.get(s.spanId) ?? []).find((c) => CALLEE_KINDS.has(c.kind));
      const callee = child ? { service: child.service } : linkedFrom.has(s.spanId) ? { service: linkedFrom.get(s.spanId)! } : undefined;
      if (!callee && s.kind === 'producer' && consumed.has(s.peer)) continue;
      const edgeKey = `${s.service}\u0000${s.peer}`;
      let edge = edges.get(edgeKey);
      if (!edge) {
        edge = { from: s.service, to: s.peer, peer: s.peer, calls: 0, covered: 0, coveragePercent: 0, exampleTraceId: traceId, callees: new Map() };
        edges.set(edgeKey, edge);
      }
      edge.calls++;
      if (callee) {
        edge.covered++;
        edge.callees.set(callee.service, (edge.callees.get(callee.service) ?? 0) + 1);
      } else {
        edge.exampleTraceId = traceId;
        const hopKey = `${s.service}\u0000${s.peer}\u0000${s.kind}`;
        const hop = hops.get(hopKey);
        if (hop) hop.count++;
        else hops.set(hopKey, { service: s.service, peer: s.peer, kind: s.kind, count: 1, exampleTraceId: traceId });
      }
    }
  }

  const silentServices: SilentService[] = [];
  for (const [service, seen] of lastSeen) {
    if (newest - seen.timeMs > silenceMs) silentServices.push({ service, lastSeen: new Date(seen.timeMs).toISOString(), spans: seen.spans });
  }

  return {
    window: { start: new Date(options.startMs).toISOString(), end: new Date(options.endMs).toISOString() },
    spans: spanCount,
    traces: settledTraces,
    orphanSpans: [...orphans.values()].toSorted(byCount),
    missingHops: [...hops.values()].toSorted(byCount),
    rootlessTraces: { count: rootlessCount, exampleTraceIds: rootless },
    edges: [...edges.values()]
      .map(({ callees, ...edge }) => {
        const top = [...callees.entries()].toSorted((a, b) => b[1] - a[1])[0];
        return { ...edge, to: top ? top[0] : edge.peer, coveragePercent: Math.round((edge.covered / edge.calls) * 1000) / 10 };
      })
      .toSorted((a, b) => a.coveragePercent - b.coveragePercent || b.calls - a.calls),
    silentServices: silentServices.toSorted((a, b) => a.lastSeen.localeCompare(b.lastSeen)),
  };
}

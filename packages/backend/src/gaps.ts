// The trace-completeness report: where tracing is dark, and why. A pure function over the few fields it needs, so
// the backend (rows from DuckDB) and the CLI's Honeycomb target (rows from breakdown queries) share it.
//
// Each finding is a class with its own cause, because each has its own fix: an uninstrumented hop needs the import
// in the callee; a callee that was down is an outage, not a tracing gap; lost context is a bug in a process that is
// instrumented; an untraced library needs a supported version.

/** The resource attribute the SDK sets at start: installed libraries (or versions) it does not trace. */
export const UNTRACED_LIBRARIES_FIELD = 'waggle.untraced_libraries';

/** The fields the report reads from each span event, by column name. */
export const GAP_FIELDS = [
  'trace.trace_id', 'trace.span_id', 'trace.parent_id', 'service.name', 'span.kind', 'name',
  'server.address', 'server.port', 'messaging.destination.name', 'db.system', 'db.system.name', 'client.address',
  'http.request.method', 'http.response.status_code', 'error.type', 'host.name', 'process.pid', UNTRACED_LIBRARIES_FIELD,
] as const;
export type GapField = (typeof GAP_FIELDS)[number];

/** Why a call got no answer: refused, reset, timed out, name not resolved, host unreachable, or no response at all. */
export type UnreachableReason = 'refused' | 'reset' | 'timeout' | 'dns' | 'unreachable' | 'no_response';

export interface GapSpan {
  traceId: string;
  spanId: string;
  /** null for a root span. */
  parentId: string | null;
  service: string;
  /** The dataset the span was stored in; the service name when not given. */
  dataset?: string;
  /** Lowercase OTel kind name: server, client, producer, consumer, internal. */
  kind: string;
  name: string;
  /** Start time, epoch ms. */
  timeMs: number;
  durationMs?: number;
  /** One running process of the service (host and pid); spans without it count as one process per service. */
  process?: string | null;
  /**
   * Client spans: the callee, `server.address[:port]`; producer and consumer spans: the messaging destination;
   * server spans: the address and port they were called at, which names the peer for callers.
   */
  peer?: string | null;
  /** Who called, when the server span knows (client.address). */
  caller?: string | null;
  /** True for client spans to things that never send spans themselves (databases, caches). */
  external?: boolean;
  /** For a call that got no answer, why; null or undefined when it was answered. */
  unreachable?: UnreachableReason | null;
  /** The SDK's list of installed libraries it does not trace (`name@version (why)`), from the resource. */
  untracedLibraries?: string[];
}

/** A link from a span (a batch consumer, a job started as a new root) to the span that caused it. */
export interface GapLink {
  /** The service of the linking span. */
  fromService: string;
  toSpanId: string;
}

interface Finding {
  count: number;
  exampleTraceId: string;
}

/** A call that was answered by something that sent no server or consumer span. */
export interface UninstrumentedHop extends Finding {
  /** The calling service. */
  service: string;
  /** The callee as the caller named it (loopback names folded to `localhost`), or the messaging destination. */
  peer: string;
  kind: 'client' | 'producer';
}

/** Calls that got no answer (refused, reset, timeout, DNS): an outage of the callee, not a gap in instrumentation. */
export interface UnreachableCallee extends Finding {
  service: string;
  peer: string;
  /** The instrumented service known to answer at that address, when there is one. */
  callee: string | null;
  reason: UnreachableReason;
}

/** Answered calls to an instrumented callee whose spans for them never arrived (it crashed, dropped them, or sampled apart). */
export interface LostCalleeSpans extends Finding {
  service: string;
  peer: string;
  callee: string;
}

/** Outgoing calls that started traces of their own: the context of whatever caused them was lost. */
export interface ContextLost extends Finding {
  service: string;
  kind: 'client' | 'producer';
  name: string;
  /** Every local-root span of this kind and name in the service, in flight or not. */
  total: number;
  /**
   * `request_in_flight`: the process was serving a request or job when each call started;
   * `no_entry_spans`: the service sends no server or consumer spans at all, so all its work starts untraced.
   */
  cause: 'request_in_flight' | 'no_entry_spans';
}

export interface OrphanGroup extends Finding {
  service: string;
  name: string;
  caller: string | null;
}

export interface UntracedLibrary extends Finding {
  service: string;
  library: string;
  version: string;
  /** What the SDK said about it, e.g. `Waggle traces >=5.0.0 <7`. */
  note: string;
  /** Running processes of the service that reported it. */
  processes: number;
}

export interface EdgeCoverage {
  from: string;
  /** The callee service when any call reached an instrumented service, otherwise the peer address. */
  to: string;
  /** The peer as called; ports of a known callee are folded (`localhost:* (3 ports)`). */
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
  /** The dataset the findings are limited to; null for every dataset. */
  dataset: string | null;
  spans: number;
  traces: number;
  uninstrumentedHops: UninstrumentedHop[];
  calleeUnreachable: UnreachableCallee[];
  lostCalleeSpans: LostCalleeSpans[];
  contextLost: ContextLost[];
  orphanSpans: OrphanGroup[];
  rootlessTraces: { count: number; exampleTraceIds: string[] };
  untracedLibraries: UntracedLibrary[];
  edges: EdgeCoverage[];
  silentServices: SilentService[];
}

export interface GapsOptions {
  startMs: number;
  endMs: number;
  /** Report only what happened in this dataset (spans of other datasets are still read: a callee lives in its own). */
  dataset?: string;
  /** Spans newer than this before `endMs` may still be in flight: their traces are left out. Default 5 s. */
  settleMs?: number;
  /** A service is silent when its last span is older than this before the newest span overall. Default 60 s. */
  silenceMs?: number;
}

const CALLEE_KINDS = new Set(['server', 'consumer']);
const CALLER_KINDS = new Set(['client', 'producer']);

// error.type values of Node (ECONNREFUSED…), undici (UND_ERR_…) and Waggle's proxy instrumentation (connect_refused…).
const UNREACHABLE: ReadonlyArray<[RegExp, UnreachableReason]> = [
  [/refused/i, 'refused'],
  [/notfound|eai_again|dns/i, 'dns'],
  [/unreach/i, 'unreachable'],
  [/timeout|timedout/i, 'timeout'],
  [/reset|epipe|und_err_socket|und_err_closed|hang.?up/i, 'reset'],
];

/** Why a client call got no answer, or null when it was answered (it has a response status) or the cause is unknown. */
export function unreachableReason(errorType: string, answered: boolean, http: boolean): UnreachableReason | null {
  if (answered) return null;
  for (const [pattern, reason] of UNREACHABLE) if (pattern.test(errorType)) return reason;
  return http ? 'no_response' : null;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|0:0:0:0:0:0:0:1|::ffff:127(\.\d{1,3}){3}|0\.0\.0\.0|::)$/;

/** One name per host: loopback names and addresses are all `localhost`; case, brackets and a trailing dot dropped. */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return LOOPBACK.test(h) || h.endsWith('.localhost') ? 'localhost' : h;
}

/** `host:port` as a caller names a peer, with the host normalised; the port as an integer (`8080`, not `8080.0`). */
export function peerAddress(address: string, port: string): string {
  if (!address) return '';
  const n = Number(port);
  return port === '' ? normalizeHost(address) : `${normalizeHost(address)}:${Number.isFinite(n) ? String(n) : port}`;
}

/**
 * A GapSpan from a span's fields by column name (a DuckDB row or a Honeycomb breakdown row), so both targets read
 * spans the same way.
 */
export function gapSpanFromFields(get: (field: GapField) => unknown, at: { timeMs: number; durationMs?: number; dataset?: string }): GapSpan {
  const s = (field: GapField): string => {
    const v = get(field);
    return v === null || v === undefined ? '' : String(v);
  };
  const kind = s('span.kind');
  const messaging = kind === 'producer' || kind === 'consumer';
  const answered = s('http.response.status_code') !== '';
  const http = s('http.request.method') !== '';
  const host = s('host.name');
  const pid = s('process.pid');
  return {
    traceId: s('trace.trace_id'),
    spanId: s('trace.span_id'),
    parentId: s('trace.parent_id') || null,
    service: s('service.name'),
    ...(at.dataset === undefined ? {} : { dataset: at.dataset }),
    kind,
    name: s('name'),
    timeMs: at.timeMs,
    ...(at.durationMs === undefined ? {} : { durationMs: at.durationMs }),
    process: host || pid ? `${host}/${pid}` : null,
    peer: (messaging ? s('messaging.destination.name') : peerAddress(s('server.address'), s('server.port'))) || null,
    caller: s('client.address') || null,
    external: Boolean(s('db.system') || s('db.system.name')),
    unreachable: kind === 'client' ? unreachableReason(s('error.type'), answered, http) : null,
    ...untracedOf(get(UNTRACED_LIBRARIES_FIELD)),
  };
}

// The SDK sends a string array; backends store arrays as JSON text.
function untracedOf(value: unknown): { untracedLibraries?: string[] } {
  let list = value;
  if (typeof value === 'string') {
    try {
      list = value.startsWith('[') ? JSON.parse(value) : [value];
    } catch {
      list = [value];
    }
  }
  return Array.isArray(list) && list.length > 0 ? { untracedLibraries: list.map(String) } : {};
}

/** When the server and consumer spans of one process ran, to ask whether it was serving anything at a moment. */
class BusyTimes {
  private spans: Array<{ start: number; end: number }> = [];
  private starts: number[] = [];
  private maxEnds: number[] = [];

  add(start: number, end: number): void {
    this.spans.push({ start, end });
  }

  /** Sorts once by start; then each question is a binary search. */
  seal(): void {
    this.spans = this.spans.toSorted((a, b) => a.start - b.start);
    this.starts = this.spans.map((s) => s.start);
    let max = -Infinity;
    this.maxEnds = this.spans.map((s) => (max = Math.max(max, s.end)));
  }

  busyAt(t: number): boolean {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && this.maxEnds[lo - 1]! >= t;
  }
}

/** Counts findings by key, keeping the first example trace. */
class Tally<T extends Finding> {
  private readonly groups = new Map<string, T>();

  add(key: string, make: () => T): T {
    const g = this.groups.get(key);
    if (g) {
      g.count++;
      return g;
    }
    const created = make();
    this.groups.set(key, created);
    return created;
  }

  sorted(): T[] {
    return [...this.groups.values()].toSorted((a, b) => b.count - a.count);
  }
}

const key = (...parts: string[]) => parts.join('\u0000');

export function computeGaps(input: Iterable<GapSpan>, options: GapsOptions, links: Iterable<GapLink> = []): GapsReport {
  // A consumer that links back to the producer (batch receive, a job run as a new trace) covers that hop too.
  const linkedFrom = new Map<string, string>();
  for (const l of links) linkedFrom.set(l.toSpanId, l.fromService);
  const settleMs = options.settleMs ?? 5_000;
  const silenceMs = options.silenceMs ?? 60_000;
  const inScope = (s: GapSpan) => options.dataset === undefined || (s.dataset ?? s.service) === options.dataset;

  const traces = new Map<string, GapSpan[]>();
  const lastSeen = new Map<string, { timeMs: number; spans: number }>();
  const busy = new Map<string, BusyTimes>();
  const servicesWithEntries = new Set<string>();
  // Who answers at an address: the service of server spans called there, or of callee spans under calls to it.
  const answeredBy = new Map<string, Map<string, number>>();
  const noteAnswer = (peer: string, service: string) => {
    let byService = answeredBy.get(peer);
    if (!byService) answeredBy.set(peer, (byService = new Map()));
    byService.set(service, (byService.get(service) ?? 0) + 1);
  };
  const untraced = new Map<string, UntracedLibrary & { seen: Set<string> }>();
  let newest = -Infinity;
  let spanCount = 0;
  for (const s of input) {
    newest = Math.max(newest, s.timeMs);
    let list = traces.get(s.traceId);
    if (!list) traces.set(s.traceId, (list = []));
    list.push(s);
    if (CALLEE_KINDS.has(s.kind)) {
      servicesWithEntries.add(s.service);
      const processKey = key(s.service, s.process ?? '');
      let times = busy.get(processKey);
      if (!times) busy.set(processKey, (times = new BusyTimes()));
      times.add(s.timeMs, s.timeMs + (s.durationMs ?? 0));
      if (s.kind === 'server' && s.peer) noteAnswer(s.peer, s.service);
    }
    if (!inScope(s)) continue;
    spanCount++;
    const seen = lastSeen.get(s.service);
    if (!seen) lastSeen.set(s.service, { timeMs: s.timeMs, spans: 1 });
    else {
      seen.timeMs = Math.max(seen.timeMs, s.timeMs);
      seen.spans++;
    }
    for (const entry of s.untracedLibraries ?? []) {
      const { library, version, note } = parseUntraced(entry);
      const k = key(s.service, library, version);
      let g = untraced.get(k);
      if (!g) untraced.set(k, (g = { service: s.service, library, version, note, processes: 0, count: 0, exampleTraceId: s.traceId, seen: new Set() }));
      g.count++;
      g.seen.add(s.process ?? '');
    }
  }
  for (const times of busy.values()) times.seal();

  const orphans = new Tally<OrphanGroup>();
  const unreachable = new Tally<UnreachableCallee>();
  const contextLost = new Map<string, ContextLost>();
  const rootless: string[] = [];
  let rootlessCount = 0;
  let settledTraces = 0;
  const settleLine = options.endMs - settleMs;
  // Calls that reached something which sent no span: judged once every address's answering service is known.
  const unanswered: Array<{ span: GapSpan; peer: string }> = [];
  const calls: Array<{ span: GapSpan; peer: string; callee: string | null }> = [];

  // A queue that an instrumented consumer reads: its messages not yet consumed in the window are waiting in the
  // queue, not crossing an uninstrumented hop.
  const consumed = new Set<string>();
  for (const list of traces.values()) for (const s of list) if (s.kind === 'consumer' && s.peer) consumed.add(s.peer);

  for (const [traceId, spans] of traces) {
    // A trace whose latest span is very recent may still be arriving: judging it now would report false gaps.
    if (spans.some((s) => s.timeMs > settleLine)) continue;
    const scoped = spans.some(inScope);
    if (scoped) settledTraces++;
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
      if (!byId.has(s.parentId) && inScope(s)) {
        orphans.add(key(s.service, s.name, s.caller ?? ''), () => ({ service: s.service, name: s.name, caller: s.caller ?? null, count: 1, exampleTraceId: traceId }));
      }
    }
    if (!hasRoot && scoped) {
      rootlessCount++;
      if (rootless.length < 5) rootless.push(traceId);
    }
    for (const s of spans) {
      if (!CALLER_KINDS.has(s.kind) || !inScope(s)) continue;
      if (!s.parentId) noteLocalRoot(s, traceId);
      if (s.external || !s.peer) continue;
      const child = (childrenOf.get(s.spanId) ?? []).find((c) => CALLEE_KINDS.has(c.kind));
      const callee = child?.service ?? linkedFrom.get(s.spanId);
      if (callee !== undefined) {
        if (child?.kind === 'server') noteAnswer(s.peer, child.service);
        calls.push({ span: s, peer: s.peer, callee });
      } else if (s.unreachable) {
        const reason = s.unreachable;
        unreachable.add(key(s.service, s.peer, reason), () => ({ service: s.service, peer: s.peer!, callee: null, reason, count: 1, exampleTraceId: traceId }));
      } else if (!(s.kind === 'producer' && consumed.has(s.peer))) {
        unanswered.push({ span: s, peer: s.peer });
      }
    }
  }

  function noteLocalRoot(s: GapSpan, traceId: string): void {
    const entries = servicesWithEntries.has(s.service);
    const inFlight = !entries || busy.get(key(s.service, s.process ?? ''))?.busyAt(s.timeMs) === true;
    const k = key(s.service, s.kind, s.name);
    let g = contextLost.get(k);
    if (!g) {
      g = { service: s.service, kind: s.kind as ContextLost['kind'], name: s.name, count: 0, total: 0, cause: entries ? 'request_in_flight' : 'no_entry_spans', exampleTraceId: '' };
      contextLost.set(k, g);
    }
    g.total++;
    if (inFlight) {
      g.count++;
      if (!g.exampleTraceId) g.exampleTraceId = traceId;
    }
  }

  const knownCallee = (peer: string): string | null => {
    const byService = answeredBy.get(peer);
    if (!byService) return null;
    return [...byService.entries()].toSorted((a, b) => b[1] - a[1])[0]![0];
  };
  const hops = new Tally<UninstrumentedHop>();
  const lost = new Tally<LostCalleeSpans>();
  for (const { span: s, peer } of unanswered) {
    const callee = knownCallee(peer);
    if (callee !== null && s.kind === 'client') {
      lost.add(key(s.service, peer), () => ({ service: s.service, peer, callee, count: 1, exampleTraceId: s.traceId }));
    } else {
      hops.add(key(s.service, peer, s.kind), () => ({ service: s.service, peer, kind: s.kind as UninstrumentedHop['kind'], count: 1, exampleTraceId: s.traceId }));
    }
    calls.push({ span: s, peer, callee: null });
  }
  const unreachableList = unreachable.sorted();
  for (const u of unreachableList) u.callee = knownCallee(u.peer);

  const silentServices: SilentService[] = [];
  for (const [service, seen] of lastSeen) {
    if (newest - seen.timeMs > silenceMs) silentServices.push({ service, lastSeen: new Date(seen.timeMs).toISOString(), spans: seen.spans });
  }

  return {
    window: { start: new Date(options.startMs).toISOString(), end: new Date(options.endMs).toISOString() },
    dataset: options.dataset ?? null,
    spans: spanCount,
    traces: settledTraces,
    uninstrumentedHops: hops.sorted(),
    calleeUnreachable: unreachableList,
    lostCalleeSpans: lost.sorted(),
    contextLost: [...contextLost.values()].filter((g) => g.count > 0).toSorted((a, b) => b.count - a.count),
    orphanSpans: orphans.sorted(),
    rootlessTraces: { count: rootlessCount, exampleTraceIds: rootless },
    untracedLibraries: [...untraced.values()].map(({ seen, ...g }) => ({ ...g, processes: seen.size })).toSorted((a, b) => b.count - a.count),
    edges: edgesOf(calls, knownCallee),
    silentServices: silentServices.toSorted((a, b) => a.lastSeen.localeCompare(b.lastSeen)),
  };
}

/** `bullmq@1.15.1 (Waggle traces >=5.0.0 <7)` → its parts; a scoped name keeps its leading `@`. */
function parseUntraced(entry: string): { library: string; version: string; note: string } {
  const space = entry.indexOf(' ');
  const id = space === -1 ? entry : entry.slice(0, space);
  const note = space === -1 ? '' : entry.slice(space + 1).replace(/^\((.*)\)$/, '$1');
  const at = id.lastIndexOf('@');
  return at > 0 ? { library: id.slice(0, at), version: id.slice(at + 1), note } : { library: id, version: '', note };
}

/**
 * Coverage per caller → callee. Calls to addresses of a known callee are one edge whatever the port (a test run's
 * servers on ephemeral ports are one row per service, not one per port); unknown callees stay one edge per address.
 */
function edgesOf(calls: Array<{ span: GapSpan; peer: string; callee: string | null }>, knownCallee: (peer: string) => string | null): EdgeCoverage[] {
  const edges = new Map<string, EdgeCoverage & { peers: Set<string> }>();
  for (const { span: s, peer, callee } of calls) {
    const to = callee ?? knownCallee(peer) ?? peer;
    const k = key(s.service, to);
    let edge = edges.get(k);
    if (!edge) edges.set(k, (edge = { from: s.service, to, peer, calls: 0, covered: 0, coveragePercent: 0, exampleTraceId: s.traceId, peers: new Set() }));
    edge.calls++;
    edge.peers.add(peer);
    if (callee !== null) edge.covered++;
    else edge.exampleTraceId = s.traceId;
  }
  return [...edges.values()]
    .map(({ peers, ...edge }) => ({ ...edge, peer: foldPeers([...peers]), coveragePercent: Math.round((edge.covered / edge.calls) * 1000) / 10 }))
    .toSorted((a, b) => a.coveragePercent - b.coveragePercent || b.calls - a.calls);
}

function foldPeers(peers: string[]): string {
  if (peers.length === 1) return peers[0]!;
  const hosts = new Set(peers.map((p) => p.replace(/:\d+$/, '')));
  if (hosts.size === 1) return `${[...hosts][0]}:* (${peers.length} ports)`;
  const sorted = peers.toSorted();
  return sorted.length > 3 ? `${sorted.slice(0, 3).join(', ')} +${sorted.length - 3}` : sorted.join(', ');
}

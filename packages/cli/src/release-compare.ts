// The release verdict: the same numbers for two versions of a service, the candidate ÷ baseline changes, the rules a
// deploy script fails on, and what sets the candidate's slow requests apart. Every number comes from Query Data API
// queries, so it works on the local backend and on Honeycomb alike.
import type { BubbleUpResult } from '@waggle/backend';
import type { QueryResult, Target } from './client.js';
import { UsageError } from './errors.js';
import { calculationKey, type Filter, type QuerySpec } from './query-syntax.js';

/** Fields the runtime instrumentation records on local root spans (see @waggle/instrumentation-runtime). */
export const RUNTIME_FIELDS = {
  heap: 'runtime.heap.used_ratio',
  loopDelay: 'runtime.eventloop.delay_p99_ms',
  logMs: 'log.duration_ms',
} as const;

export type Metric = 'p50' | 'p95' | 'p99' | 'error_rate' | 'heap_ratio' | 'loop_delay' | 'log_ms' | 'crashes' | 'starts';

export const METRICS: Record<Metric, { label: string; unit: string }> = {
  p50: { label: 'P50 duration_ms', unit: 'ms' },
  p95: { label: 'P95 duration_ms', unit: 'ms' },
  p99: { label: 'P99 duration_ms', unit: 'ms' },
  error_rate: { label: 'error rate', unit: '%' },
  heap_ratio: { label: 'heap used ratio (P95)', unit: '' },
  loop_delay: { label: 'event-loop delay (P95 of p99)', unit: 'ms' },
  log_ms: { label: 'logger ms per request', unit: 'ms' },
  crashes: { label: 'crashes (process.crash)', unit: '' },
  starts: { label: 'starts (process.start)', unit: '' },
};

/**
 * A ratio rule also needs the difference to matter: 0.02 ms of logging becoming 0.05 ms is 2.5× and irrelevant. Below
 * these absolute differences a ratio is not a regression.
 */
const RATIO_FLOORS: Partial<Record<Metric, number>> = { p50: 5, p95: 5, p99: 5, heap_ratio: 0.05, loop_delay: 5, log_ms: 0.5 };

export const DEFAULT_RULES = 'p99=1.5x,error_rate=+1pp,heap_ratio=1.3x,log_ms=2x,crashes=+0';
export const DEFAULT_MIN_EVENTS = 50;
/** One-sided significance level of the tests behind the p99 and error-rate rules. */
export const ALPHA = 0.05;

export interface Rule {
  metric: Metric;
  kind: 'ratio' | 'pp' | 'plus';
  limit: number;
  text: string;
}

/** `p99=1.5x,error_rate=+1pp,crashes=+0` → rules; a usage error names the rule and the accepted forms. */
export function parseRules(text: string): Rule[] {
  if (text.trim() === '') throw new UsageError('--fail-on needs at least one rule, for example p99=1.5x');
  return text.split(',').map((raw) => {
    const rule = raw.trim();
    const m = /^([a-z0-9_]+)\s*=\s*(\+?)(\d+(?:\.\d+)?)(x|pp)?$/.exec(rule);
    const metric = m?.[1] as Metric | undefined;
    if (!m || !metric || !(metric in METRICS)) {
      throw new UsageError(
        `--fail-on ${JSON.stringify(rule)}: expected METRIC=LIMIT with METRIC one of ${Object.keys(METRICS).join(', ')} and LIMIT like 1.5x (ratio), +1pp (error_rate) or +0 (difference)`,
      );
    }
    const limit = Number(m[3]);
    const kind = m[4] === 'x' ? 'ratio' : m[4] === 'pp' ? 'pp' : 'plus';
    if (kind === 'ratio' && (m[2] || limit < 1)) throw new UsageError(`--fail-on ${JSON.stringify(rule)}: a ratio limit is 1x or more, without +`);
    if (kind === 'pp' && metric !== 'error_rate') throw new UsageError(`--fail-on ${JSON.stringify(rule)}: percentage points (pp) are for error_rate`);
    if (kind !== 'ratio' && !m[2]) throw new UsageError(`--fail-on ${JSON.stringify(rule)}: write a difference with +, e.g. ${metric}=+${m[3]}${m[4] ?? ''}`);
    if (metric === 'error_rate' && kind === 'plus') throw new UsageError(`--fail-on ${JSON.stringify(rule)}: write the error-rate difference in percentage points, e.g. error_rate=+1pp`);
    return { metric, kind, limit, text: rule };
  });
}

export interface VersionStats {
  version: string;
  /** Root/server spans in the window (weighted by sample rate). */
  count: number;
  errors: number;
  values: Partial<Record<Metric, number>>;
}

export interface RuleOutcome extends Rule {
  baseline: number | undefined;
  candidate: number | undefined;
  /** candidate ÷ baseline, or candidate − baseline (percentage points for error_rate). */
  change: number | undefined;
  status: 'ok' | 'broken' | 'n/a';
  /** Why: the test behind a tail rule, or what was missing. */
  note?: string;
}

export interface ReleaseComparison {
  dataset: string;
  baseline: VersionStats;
  candidate: VersionStats;
  /** Versions seen in the window, with their request counts (helps with a mistyped version). */
  versions: Record<string, number>;
  minEvents: number;
  rules: RuleOutcome[];
  verdict: 'pass' | 'fail' | 'not_enough_data';
  /** What sets the candidate's slow (or failing) requests apart from the rest. */
  bubbleup?: { selection: string; result: BubbleUpResult };
  /** Runtime fields missing from the dataset (the runtime instrumentation is not installed). */
  missingFields: string[];
  /** The metrics that grew most, candidate ÷ baseline, largest first. */
  largestChanges: Array<{ metric: Metric; change: number }>;
}

/**
 * P(K ≥ k) for K ~ Binomial(n, p): the chance of at least k "bad" requests among n when each is bad with probability p.
 * Summed from k upwards in log space, so large n and tiny tails neither underflow nor cancel.
 */
export function binomialTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n || p <= 0) return 0;
  if (p >= 1) return 1;
  let logTerm = k * Math.log(p) + (n - k) * Math.log1p(-p);
  for (let j = 1; j <= k; j++) logTerm += Math.log((n - k + j) / j);
  let term = Math.exp(logTerm);
  let sum = 0;
  for (let i = k; i <= n; i++) {
    sum += term;
    if (term < sum * 1e-17 && i > n * p) break;
    term *= ((n - i) / (i + 1)) * (p / (1 - p));
  }
  return Math.min(1, sum);
}

function ratioOf(b: number | undefined, c: number | undefined): number | undefined {
  if (b === undefined || c === undefined) return undefined;
  if (b === 0) return c === 0 ? 1 : Number.POSITIVE_INFINITY;
  return c / b;
}

/** The change a rule looks at: a ratio, or a difference (percentage points for error_rate). */
export function changeOf(metric: Metric, kind: Rule['kind'] | 'auto', b: number | undefined, c: number | undefined): number | undefined {
  const asRatio = kind === 'ratio' || (kind === 'auto' && metric !== 'error_rate' && metric !== 'crashes' && metric !== 'starts');
  if (asRatio) return ratioOf(b, c);
  if (b === undefined || c === undefined) return undefined;
  return metric === 'error_rate' ? (c - b) * 100 : c - b;
}

/** Inputs of the tail tests: the candidate's requests over limit × baseline P99 (counted by one more query). */
export interface TailCounts {
  slowerThanLimit?: number;
}

/** Judges each rule. The p99 and error-rate rules also need their excess to be unlikely by chance (see README). */
export function judge(rules: Rule[], base: VersionStats, cand: VersionStats, tails: TailCounts): RuleOutcome[] {
  return rules.map((rule) => {
    const b = base.values[rule.metric];
    const c = cand.values[rule.metric];
    const change = changeOf(rule.metric, rule.kind, b, c);
    const out: RuleOutcome = { ...rule, baseline: b, candidate: c, change, status: 'n/a' };
    if (b === undefined || c === undefined || change === undefined) {
      out.note = `no ${METRICS[rule.metric].label} for ${b === undefined ? base.version : cand.version}`;
      return out;
    }
    const floor = rule.kind === 'ratio' ? (RATIO_FLOORS[rule.metric] ?? 0) : 0;
    const over = change > rule.limit && (rule.kind !== 'ratio' || c - b >= floor);
    out.status = over ? 'broken' : 'ok';
    if (over && rule.kind === 'ratio' && rule.metric === 'p99') {
      // With few requests the P99 is (nearly) the slowest one: ask whether the slow requests could be chance. If the
      // candidate were no slower than the baseline, at most 1% of its requests would exceed the baseline's P99.
      const k = Math.round(tails.slowerThanLimit ?? 0);
      const n = Math.round(cand.count);
      const pValue = binomialTail(k, n, 0.01);
      out.note = `${k} of ${n} ${cand.version} requests slower than ${rule.limit}× the ${base.version} P99 (${format(rule.limit * b)} ms); p = ${formatP(pValue)} if it were no slower`;
      if (pValue >= ALPHA) out.status = 'ok';
    } else if (over && rule.kind === 'pp') {
      const k = Math.round(cand.errors);
      const n = Math.round(cand.count);
      const p0 = Math.min(1, b + rule.limit / 100);
      const pValue = binomialTail(k, n, p0);
      out.note = `${k} errors in ${n} requests; p = ${formatP(pValue)} if the error rate were ${format(p0 * 100)}%`;
      if (pValue >= ALPHA) out.status = 'ok';
    } else if (rule.kind === 'ratio' && change > rule.limit && !over) {
      const unit = METRICS[rule.metric].unit;
      out.note = `a difference under ${floor}${unit ? ` ${unit}` : ''} does not count`;
    }
    return out;
  });
}

function format(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(1) : n.toPrecision(2);
}

function formatP(p: number): string {
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

export interface CompareRequest {
  dataset: string;
  baseline: string;
  candidate: string;
  /** The user's --where filters: narrow the requests compared. */
  where: Filter[];
  time: Pick<QuerySpec, 'time_range' | 'start_time' | 'end_time'>;
  rules: Rule[];
  minEvents: number;
}

const SERVER = { column: 'span.kind', op: '=', value: 'server' } as const;

/** Result rows keyed by service.version (and the `extra` breakdowns), joined with NUL. */
function perVersion(result: QueryResult, extra: string[] = []): Map<string, Record<string, unknown>> {
  const rows = new Map<string, Record<string, unknown>>();
  for (const { data } of result.data?.results ?? []) rows.set([data['service.version'], ...extra.map((e) => data[e])].map(String).join('\u0000'), data);
  return rows;
}

/** A time spec as absolute `start_time`/`end_time` (epoch seconds), `now` ending a relative range. */
export function absoluteWindow(time: CompareRequest['time'], now: number): { start_time: number; end_time: number } {
  const range = time.time_range;
  if (time.start_time !== undefined && time.end_time !== undefined) return { start_time: time.start_time, end_time: time.end_time };
  if (time.start_time !== undefined) return { start_time: time.start_time, end_time: range === undefined ? now : time.start_time + range };
  const end = time.end_time ?? now;
  return { start_time: end - (range ?? 7200), end_time: end };
}

/** Runs the queries and judges the rules; BubbleUp runs only with enough data. */
export async function compareReleases(
  target: Target,
  req: CompareRequest,
  bubbleUp: (filters: Filter[], selection: Filter[], window: { start_time: number; end_time: number }) => Promise<BubbleUpResult>,
): Promise<ReleaseComparison> {
  const { dataset, baseline, candidate } = req;
  // Every query of one comparison reads the same window: with a relative time_range each query would see requests
  // that arrived since the previous one (and a tail count could exceed the count it is judged against).
  const time = absoluteWindow(req.time, Math.floor(Date.now() / 1000));
  const known = new Set((await target.listColumns(dataset)).map((c) => c.key_name));
  const missingFields = Object.values(RUNTIME_FIELDS).filter((f) => !known.has(f));
  const has = (f: string) => known.has(f);
  const scope: Filter[] = [SERVER, ...req.where];
  const calcs: Array<{ metric: Metric | 'count' | 'log_sum'; op: string; column?: string }> = [
    { metric: 'count', op: 'COUNT' },
    { metric: 'p50', op: 'P50', column: 'duration_ms' },
    { metric: 'p95', op: 'P95', column: 'duration_ms' },
    { metric: 'p99', op: 'P99', column: 'duration_ms' },
    ...(has(RUNTIME_FIELDS.heap) ? [{ metric: 'heap_ratio' as const, op: 'P95', column: RUNTIME_FIELDS.heap }] : []),
    ...(has(RUNTIME_FIELDS.loopDelay) ? [{ metric: 'loop_delay' as const, op: 'P95', column: RUNTIME_FIELDS.loopDelay }] : []),
    ...(has(RUNTIME_FIELDS.logMs) ? [{ metric: 'log_sum' as const, op: 'SUM', column: RUNTIME_FIELDS.logMs }] : []),
  ];
  // Every version in the window, so a typo in --candidate shows the versions there are.
  const main = perVersion(
    await target.runQuery(dataset, { calculations: calcs.map(({ op, column }) => (column ? { op, column } : { op })), filters: scope, breakdowns: ['service.version'], ...time }),
  );
  const errors = has('error')
    ? perVersion(
        await target.runQuery(dataset, {
          calculations: [{ op: 'COUNT' }],
          filters: [...scope, { column: 'service.version', op: 'in', value: [baseline, candidate] }, { column: 'error', op: '=', value: true }],
          breakdowns: ['service.version'],
          ...time,
        }),
      )
    : new Map();
  const lifecycle = perVersion(
    await target.runQuery(dataset, {
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: 'service.version', op: 'in', value: [baseline, candidate] }, { column: 'name', op: 'in', value: ['process.start', 'process.crash'] }],
      breakdowns: ['service.version', 'name'],
      ...time,
    }),
    ['name'],
  );
  const stats = (version: string): VersionStats => {
    const row = main.get(version) ?? {};
    const num = (k: string) => (typeof row[k] === 'number' && Number.isFinite(row[k]) ? (row[k] as number) : undefined);
    const count = num('COUNT') ?? 0;
    const errorCount = Number(errors.get(version)?.COUNT ?? 0);
    const values: Partial<Record<Metric, number>> = {};
    for (const c of calcs) {
      const v = num(calculationKey(c));
      if (v === undefined || c.metric === 'count') continue;
      if (c.metric === 'log_sum') values.log_ms = count > 0 ? v / count : undefined;
      else values[c.metric] = v;
    }
    if (count > 0) values.error_rate = has('error') ? errorCount / count : 0;
    values.crashes = Number(lifecycle.get(`${version}\u0000process.crash`)?.COUNT ?? 0);
    values.starts = Number(lifecycle.get(`${version}\u0000process.start`)?.COUNT ?? 0);
    return { version, count, errors: errorCount, values };
  };
  const base = stats(baseline);
  const cand = stats(candidate);
  const versions = Object.fromEntries([...main.values()].map((r) => [String(r['service.version']), Number(r.COUNT ?? 0)]));
  const out: ReleaseComparison = { dataset, baseline: base, candidate: cand, versions, minEvents: req.minEvents, rules: [], verdict: 'pass', missingFields, largestChanges: largestChanges(base, cand) };
  if (base.count < req.minEvents || cand.count < req.minEvents) {
    out.verdict = 'not_enough_data';
    return out;
  }
  const p99Rule = req.rules.find((r) => r.metric === 'p99' && r.kind === 'ratio');
  const tails: TailCounts = {};
  if (p99Rule && base.values.p99 !== undefined) {
    const slow = await target.runQuery(dataset, {
      calculations: [{ op: 'COUNT' }],
      filters: [...scope, { column: 'service.version', op: '=', value: candidate }, { column: 'duration_ms', op: '>', value: p99Rule.limit * base.values.p99 }],
      ...time,
    });
    tails.slowerThanLimit = Number(slow.data?.results?.[0]?.data.COUNT ?? 0);
  }
  out.rules = judge(req.rules, base, cand, tails);
  out.verdict = out.rules.some((r) => r.status === 'broken') ? 'fail' : 'pass';

  // BubbleUp: the candidate's slow requests (slower than the baseline's P95), or its failing ones when errors are what
  // regressed and latency did not, against everything else of both versions.
  const errorsOnly = out.rules.some((r) => r.metric === 'error_rate' && r.status === 'broken') && !out.rules.some((r) => r.metric.startsWith('p') && r.status === 'broken');
  const threshold = base.values.p95;
  const selection: Filter[] = [{ column: 'service.version', op: '=', value: candidate }];
  let selectionText: string;
  if (errorsOnly || threshold === undefined) {
    selection.push({ column: 'error', op: '=', value: true });
    selectionText = `${candidate} requests that failed`;
  } else {
    selection.push({ column: 'duration_ms', op: '>', value: threshold });
    selectionText = `${candidate} requests slower than the ${baseline} P95 (${format(threshold)} ms)`;
  }
  try {
    const result = await bubbleUp([...scope, { column: 'service.version', op: 'in', value: [baseline, candidate] }], selection, time);
    // The split itself and what identifies a deployment differ by construction; process-wide gauges (heap, event loop)
    // are the same for every request of a process, so they separate the versions perfectly too, and the table above
    // already compares them. What is left differs request by request.
    result.columns = result.columns.filter((c) => !DEPLOYMENT_IDENTITY.test(c.column) && !PROCESS_GAUGE.test(c.column));
    out.bubbleup = { selection: selectionText, result };
  } catch {
    // The verdict stands without the explanation; the numbers above already say what regressed.
  }
  return out;
}

/** Columns that name the deployment a request ran on: a canary runs on other instances by construction. */
const DEPLOYMENT_IDENTITY = /^(service\.version|service\.instance\.id|host\.(name|id|ip)|container\.id|k8s\.pod\.(name|uid)|process\.pid)$/;
/** The runtime instrumentation's process-wide samples (runtime.heap.*, runtime.eventloop.*, …); runtime.gc.pause_ms is per request. */
const PROCESS_GAUGE = /^runtime\.(?!gc\.pause_ms$)/;

/** The metrics that moved most, candidate ÷ baseline, largest first (ratios of 1 or less left out). */
export function largestChanges(base: VersionStats, cand: VersionStats): Array<{ metric: Metric; change: number }> {
  const metrics: Metric[] = ['p50', 'p95', 'p99', 'heap_ratio', 'loop_delay', 'log_ms'];
  return metrics
    .flatMap((metric) => {
      const change = ratioOf(base.values[metric], cand.values[metric]);
      return change !== undefined && change > 1 ? [{ metric, change }] : [];
    })
    .toSorted((a, b) => b.change - a.change);
}

// Turns the flags people type (`--calc 'P99(duration_ms)' --where 'status >= 500' --since 30m`) into a
// Honeycomb query spec, with a usage error that names the flag and what it accepts.
import { UsageError } from './errors.js';

export const CALCULATION_OPS = [
  'COUNT', 'CONCURRENCY', 'SUM', 'AVG', 'COUNT_DISTINCT', 'HEATMAP', 'MAX', 'MIN',
  'P001', 'P01', 'P05', 'P10', 'P20', 'P25', 'P50', 'P75', 'P80', 'P90', 'P95', 'P99', 'P999',
  'RATE_AVG', 'RATE_SUM', 'RATE_MAX',
] as const;
const NO_COLUMN_OPS = new Set(['COUNT', 'CONCURRENCY']);

// Longest first so `>=` wins over `>` and `does-not-start-with` over `starts-with`.
export const FILTER_OPS = [
  'does-not-start-with', 'does-not-end-with', 'does-not-contain', 'does-not-exist',
  'starts-with', 'ends-with', 'contains', 'exists', 'not-in', 'in',
  '!=', '>=', '<=', '=', '>', '<',
] as const;
const UNARY_OPS = new Set(['exists', 'does-not-exist']);
const LIST_OPS = new Set(['in', 'not-in']);

export type FilterValue = string | number | boolean;
export interface Calculation { op: string; column?: string }
export interface Filter { column: string; op: string; value?: FilterValue | FilterValue[] }
export interface Order { op?: string; column?: string; order: 'ascending' | 'descending' }
export interface Having { calculate_op: string; column?: string; op: string; value: number }
export interface QuerySpec {
  calculations?: Calculation[];
  filters?: Filter[];
  filter_combination?: 'AND' | 'OR';
  breakdowns?: string[];
  orders?: Order[];
  havings?: Having[];
  limit?: number;
  time_range?: number;
  start_time?: number;
  end_time?: number;
  granularity?: number;
}

/** `COUNT`, `P99(duration_ms)`, `COUNT_DISTINCT(trace.trace_id)`. */
export function parseCalculation(text: string): Calculation {
  const m = /^\s*([A-Za-z_0-9]+)\s*(?:\(\s*([^()]*?)\s*\))?\s*$/.exec(text);
  const op = m?.[1]?.toUpperCase();
  if (!m || !op || !(CALCULATION_OPS as readonly string[]).includes(op)) {
    throw new UsageError(`--calc ${JSON.stringify(text)}: expected OP or OP(column) with OP one of ${CALCULATION_OPS.join(', ')}`);
  }
  const column = m[2];
  if (NO_COLUMN_OPS.has(op)) {
    if (column) throw new UsageError(`--calc ${JSON.stringify(text)}: ${op} takes no column`);
    return { op };
  }
  if (!column) throw new UsageError(`--calc ${JSON.stringify(text)}: ${op} needs a column, for example ${op}(duration_ms)`);
  return { op, column };
}

/** Renders a calculation the way result rows name it: `COUNT`, `P99(duration_ms)`. */
export function calculationKey(c: Calculation): string {
  return c.column ? `${c.op}(${c.column})` : c.op;
}

/** A bare word becomes a number or boolean when it looks like one; quotes keep it a string. */
export function parseValue(raw: string): FilterValue {
  const t = raw.trim();
  const quoted = /^"(.*)"$|^'(.*)'$/s.exec(t);
  if (quoted) return quoted[1] ?? quoted[2] ?? '';
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (t !== '' && /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  return t;
}

function splitList(raw: string): FilterValue[] {
  const out: FilterValue[] = [];
  const re = /\s*("[^"]*"|'[^']*'|[^,]+)\s*(?:,|$)/g;
  for (const m of raw.matchAll(re)) if (m[1] !== undefined) out.push(parseValue(m[1]));
  return out;
}

/** `http.response.status_code >= 500`, `error exists`, `http.route in /a,/b`, `name contains "slow query"`. */
export function parseFilter(text: string): Filter {
  const src = text.trim();
  for (const op of FILTER_OPS) {
    const isWord = /^[a-z]/.test(op);
    const re = isWord
      ? new RegExp(`^(\\S+)\\s+${op.replace(/-/g, '\\-')}(?:\\s+(.*))?$`, 's')
      : new RegExp(`^(.+?)\\s*${op.replace(/[<>=!]/g, (c) => `\\${c}`)}\\s*(.*)$`, 's');
    const m = re.exec(src);
    if (!m) continue;
    const column = (m[1] ?? '').trim();
    const rest = (m[2] ?? '').trim();
    if (!column || /\s/.test(column)) continue;
    // `a >= 5` also matches `>` then `=`-prefixed value; FILTER_OPS order prevents that, but guard anyway.
    if (!isWord && /^[<>=!]/.test(rest)) continue;
    if (UNARY_OPS.has(op)) {
      if (rest) throw new UsageError(`--where ${JSON.stringify(text)}: ${op} takes no value`);
      return { column, op };
    }
    if (!rest) throw new UsageError(`--where ${JSON.stringify(text)}: ${op} needs a value`);
    return { column, op, value: LIST_OPS.has(op) ? splitList(rest) : parseValue(rest) };
  }
  throw new UsageError(
    `--where ${JSON.stringify(text)}: expected "COLUMN OP VALUE" (or "COLUMN exists"), OP one of ${[...FILTER_OPS].toReversed().join(' ')}`,
  );
}

/** `P99(duration_ms)`, `COUNT:asc`, `http.route:asc`. Calculations default to descending, columns to ascending. */
export function parseOrder(text: string): Order {
  const m = /^(.*?)(?::(asc|desc|ascending|descending))?$/i.exec(text.trim());
  const expr = m?.[1]?.trim() ?? '';
  const dir = m?.[2]?.toLowerCase();
  if (!expr) throw new UsageError(`--order ${JSON.stringify(text)}: expected CALC or COLUMN, optionally :asc or :desc`);
  let order: Order;
  try {
    const calc = parseCalculation(expr);
    order = { op: calc.op, ...(calc.column ? { column: calc.column } : {}), order: 'descending' };
  } catch {
    order = { column: expr, order: 'ascending' };
  }
  if (dir) order.order = dir.startsWith('asc') ? 'ascending' : 'descending';
  return order;
}

/** `COUNT > 10`, `P99(duration_ms) >= 500`. */
export function parseHaving(text: string): Having {
  const m = /^(.+?)\s*(!=|>=|<=|=|>|<)\s*(-?[\d.]+(?:e[+-]?\d+)?)\s*$/i.exec(text.trim());
  if (!m) throw new UsageError(`--having ${JSON.stringify(text)}: expected "CALC OP NUMBER", for example "COUNT > 10"`);
  const calc = parseCalculation(m[1] ?? '');
  return { calculate_op: calc.op, ...(calc.column ? { column: calc.column } : {}), op: m[2] ?? '=', value: Number(m[3]) };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** `90s`, `30m`, `2h`, `7d` → seconds. */
export function parseDuration(text: string, flag = '--since'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a duration like 90s, 30m, 2h or 7d`);
  const seconds = Math.round(Number(m[1]) * (UNIT_SECONDS[(m[2] ?? 's').toLowerCase()] ?? 1));
  if (seconds <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)}: must be longer than 0s`);
  return seconds;
}

/** An ISO date/time or epoch seconds → epoch seconds. */
export function parseTime(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d{9,11}$/.test(t)) return Number(t);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected an ISO time (2026-11-26T04:00:00Z) or epoch seconds`);
  return Math.floor(ms / 1000);
}

export interface TimeFlags { since?: string; from?: string; to?: string }

/** Resolves --since / --from / --to into spec fields; --since defaults to `fallback`. */
export function timeRange(flags: TimeFlags, fallback = '2h'): Pick<QuerySpec, 'time_range' | 'start_time' | 'end_time'> {
  if (flags.since && (flags.from || flags.to)) throw new UsageError('use either --since or --from/--to, not both');
  if (flags.from || flags.to) {
    if (!flags.from) throw new UsageError('--to needs --from');
    const start = parseTime(flags.from, '--from');
    const end = flags.to ? parseTime(flags.to, '--to') : Math.floor(Date.now() / 1000);
    if (end <= start) throw new UsageError('--to must be after --from');
    return { start_time: start, end_time: end };
  }
  return { time_range: parseDuration(flags.since ?? fallback) };
}

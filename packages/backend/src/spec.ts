import type { QueryColumn } from './query-columns.js';
import type { QuerySpec } from './types.js';

/** A query spec that broke a rule; becomes a 400 naming the field and the rule. */
export class SpecError extends Error {
  readonly field: string;
  constructor(field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.name = 'SpecError';
    this.field = field;
  }
}

export const PERCENTILES: Record<string, number> = {
  P001: 0.001,
  P01: 0.01,
  P05: 0.05,
  P10: 0.1,
  P20: 0.2,
  P25: 0.25,
  P50: 0.5,
  P75: 0.75,
  P80: 0.8,
  P90: 0.9,
  P95: 0.95,
  P99: 0.99,
  P999: 0.999,
};

const COLUMNLESS_OPS = new Set(['COUNT', 'CONCURRENCY']);
const COLUMN_OPS = new Set([
  'SUM',
  'AVG',
  'COUNT_DISTINCT',
  'HEATMAP',
  'MAX',
  'MIN',
  'RATE_AVG',
  'RATE_SUM',
  'RATE_MAX',
  ...Object.keys(PERCENTILES),
]);
export const CALCULATION_OPS = [...COLUMNLESS_OPS, ...COLUMN_OPS];

export const FILTER_OPS = [
  '=',
  '!=',
  '>',
  '>=',
  '<',
  '<=',
  'starts-with',
  'does-not-start-with',
  'ends-with',
  'does-not-end-with',
  'exists',
  'does-not-exist',
  'contains',
  'does-not-contain',
  'in',
  'not-in',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

export const DEFAULT_TIME_RANGE_S = 7200;
export const DEFAULT_LIMIT = 1000;
/** Honeycomb: a query's `limit` is at most 1,000; a `disable_series` query result may raise it to 10,000. */
export const MAX_LIMIT = 1000;
export const RESULT_LIMIT_MAX = 10_000;
export const MAX_BUCKETS = 1000;

/** A filter value as the column compares it: numbers for number columns (and numeric values on mixed ones). */
export type FilterScalar = number | string | boolean;

export interface ValidFilter {
  column: QueryColumn;
  op: FilterOp;
  /** A scalar, a list for in / not-in, undefined for exists / does-not-exist. */
  value: FilterScalar | FilterScalar[] | undefined;
}

export interface ValidCalculation {
  op: string;
  column: QueryColumn | undefined;
  /** The result key, e.g. `P99(duration_ms)` or `COUNT`. */
  name: string;
}

export interface ValidSpec {
  calculations: ValidCalculation[];
  filters: ValidFilter[];
  filterCombination: 'AND' | 'OR';
  breakdowns: QueryColumn[];
  orders: { key: string; descending: boolean }[];
  havings: { key: string; op: string; value: number }[];
  limit: number;
  /** Epoch seconds, end exclusive. */
  startTime: number;
  endTime: number;
  granularity: number;
  /** The spec as given, echoed back by the query API. */
  raw: QuerySpec;
}

export function calculationName(op: string, column: string | undefined): string {
  return column === undefined ? op : `${op}(${column})`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asArray(spec: Record<string, unknown>, field: string): unknown[] {
  const v = spec[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpecError(field, 'must be an array');
  return v;
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** Resolves the time window: `start_time`/`end_time` (epoch seconds) and/or `time_range` (seconds). */
export function resolveTime(
  spec: Record<string, unknown>,
  nowSeconds: number,
): { startTime: number; endTime: number } {
  const { time_range: range, start_time: start, end_time: end } = spec;
  for (const [field, v] of [
    ['time_range', range],
    ['start_time', start],
    ['end_time', end],
  ] as const) {
    if (v !== undefined && v !== null && (!isInt(v) || v < 0)) {
      throw new SpecError(field, 'must be a non-negative integer number of seconds');
    }
  }
  const r = (range ?? undefined) as number | undefined;
  const s = (start ?? undefined) as number | undefined;
  const e = (end ?? undefined) as number | undefined;
  if (r !== undefined && r <= 0) throw new SpecError('time_range', 'must be greater than 0');
  if (r !== undefined && s !== undefined && e !== undefined) {
    throw new SpecError('time_range', 'specify at most two of time_range, start_time and end_time');
  }
  let startTime: number;
  let endTime: number;
  if (s !== undefined && e !== undefined) {
    startTime = s;
    endTime = e;
  } else if (s !== undefined) {
    startTime = s;
    endTime = s + (r ?? DEFAULT_TIME_RANGE_S);
  } else if (e !== undefined) {
    endTime = e;
    startTime = e - (r ?? DEFAULT_TIME_RANGE_S);
  } else {
    endTime = Math.ceil(nowSeconds);
    startTime = endTime - (r ?? DEFAULT_TIME_RANGE_S);
  }
  if (endTime <= startTime) throw new SpecError('end_time', 'must be after start_time');
  return { startTime, endTime };
}

/** A calculated field defined in the query itself (Honeycomb's `calculated_fields`), visible only to that query. */
export interface InlineCalculatedField {
  name: string;
  expression: string;
}

/**
 * The dataset's columns for one query, given its inline calculated fields. Resolving may throw a {@link SpecError}
 * naming the calculated field (or the use of one) that does not compile.
 */
export type ColumnResolver = (inline: InlineCalculatedField[]) => (field: string, name: string) => QueryColumn | undefined;

/** Honeycomb's limit on calculated field names. */
const MAX_NAME_LENGTH = 255;

/** The query's own calculated fields (`calculated_fields`), checked for shape and unique names. */
export function inlineCalculatedFields(spec: Record<string, unknown>): InlineCalculatedField[] {
  const fields = asArray(spec, 'calculated_fields').map((f, i) => {
    const field = `calculated_fields[${i}]`;
    if (!isObject(f)) throw new SpecError(field, 'must be an object with "name" and "expression"');
    if (typeof f.name !== 'string' || f.name === '' || f.name.length > MAX_NAME_LENGTH) {
      throw new SpecError(`${field}.name`, `must be a column name of 1 to ${MAX_NAME_LENGTH} characters`);
    }
    if (typeof f.expression !== 'string') throw new SpecError(`${field}.expression`, 'must be a calculated field expression');
    return { name: f.name, expression: f.expression };
  });
  const names = fields.map((f) => f.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new SpecError('calculated_fields', `repeats the name ${JSON.stringify(repeated)}`);
  return fields;
}

/** Turns a column name of a spec into its column, or a SpecError naming the field. */
export function columnOf(lookup: ReturnType<ColumnResolver>): (field: string, v: unknown) => QueryColumn {
  return (field, v) => {
    if (typeof v !== 'string' || v === '') throw new SpecError(field, 'must be a non-empty column name');
    const c = lookup(field, v);
    if (!c) throw new SpecError(field, `unknown column ${JSON.stringify(v)}`);
    return c;
  };
}

/**
 * Validates a Honeycomb query spec against the dataset's columns and calculated fields. Throws {@link SpecError}
 * naming the first field that breaks a rule. Columns resolve through `resolve`, so nothing unvalidated reaches SQL.
 */
export function validateSpec(input: unknown, resolve: ColumnResolver, nowSeconds: number): ValidSpec {
  if (!isObject(input)) throw new SpecError('query', 'must be a JSON object');
  const spec = input;
  checkSpecSize(spec);
  const column = columnOf(resolve(inlineCalculatedFields(spec)));

  const calculations: ValidCalculation[] = [];
  const rawCalcs = asArray(spec, 'calculations');
  rawCalcs.forEach((c, i) => {
    const f = `calculations[${i}]`;
    if (!isObject(c)) throw new SpecError(f, 'must be an object with "op" and, for most ops, "column"');
    const op = c.op;
    if (typeof op !== 'string' || !(COLUMNLESS_OPS.has(op) || COLUMN_OPS.has(op))) {
      throw new SpecError(`${f}.op`, `must be one of ${CALCULATION_OPS.join(', ')}`);
    }
    let col: QueryColumn | undefined;
    if (COLUMN_OPS.has(op)) {
      col = column(`${f}.column`, c.column);
      if (op !== 'COUNT_DISTINCT' && col.kind === 'bool') {
        throw new SpecError(`${f}.column`, `${op} needs a numeric column; ${JSON.stringify(col.key)} is boolean`);
      }
    } else if (c.column !== undefined && c.column !== null) {
      throw new SpecError(`${f}.column`, `${op} takes no column`);
    }
    const name = calculationName(op, col?.key);
    if (!calculations.some((x) => x.name === name)) calculations.push({ op, column: col, name });
  });
  if (calculations.length === 0) calculations.push({ op: 'COUNT', column: undefined, name: 'COUNT' });

  const filters: ValidFilter[] = asArray(spec, 'filters').map((f, i) => validateFilter(f, `filters[${i}]`, column));

  const fc = spec.filter_combination ?? 'AND';
  if (fc !== 'AND' && fc !== 'OR') throw new SpecError('filter_combination', 'must be "AND" or "OR"');

  const breakdowns = asArray(spec, 'breakdowns').map((b, i) => column(`breakdowns[${i}]`, b));
  if (new Set(breakdowns.map((b) => b.key)).size !== breakdowns.length) {
    throw new SpecError('breakdowns', 'must not repeat a column');
  }

  const calcName = (field: string, op: unknown, col: unknown): string => {
    if (typeof op !== 'string') throw new SpecError(`${field}.op`, 'must be a calculation op');
    const name = calculationName(op, typeof col === 'string' ? col : undefined);
    if (!calculations.some((c) => c.name === name)) {
      throw new SpecError(field, `${name} is not one of this query's calculations (${calculations.map((c) => c.name).join(', ')})`);
    }
    return name;
  };

  const orders = asArray(spec, 'orders').map((o, i) => {
    const f = `orders[${i}]`;
    if (!isObject(o)) throw new SpecError(f, 'must be an object with "op" and/or "column"');
    if (o.op === 'HEATMAP') throw new SpecError(`${f}.op`, 'HEATMAP cannot be used in orders');
    const order = o.order ?? 'descending';
    if (order !== 'ascending' && order !== 'descending') throw new SpecError(`${f}.order`, 'must be "ascending" or "descending"');
    let key: string;
    if (o.op !== undefined && o.op !== null) key = calcName(f, o.op, o.column);
    else {
      if (typeof o.column !== 'string' || !breakdowns.some((b) => b.key === o.column)) {
        throw new SpecError(`${f}.column`, 'must name a breakdown column when no op is given');
      }
      key = o.column;
    }
    return { key, descending: order === 'descending' };
  });
  if (orders.length === 0) {
    const first = calculations.find((c) => c.op !== 'HEATMAP');
    if (first) orders.push({ key: first.name, descending: true });
  }

  const havings = asArray(spec, 'havings').map((h, i) => {
    const f = `havings[${i}]`;
    if (!isObject(h)) throw new SpecError(f, 'must be an object with calculate_op, column, op and value');
    const key = calcName(f, h.calculate_op, h.column);
    if (typeof h.op !== 'string' || !['=', '!=', '>', '>=', '<', '<='].includes(h.op)) {
      throw new SpecError(`${f}.op`, 'must be one of =, !=, >, >=, <, <=');
    }
    if (typeof h.value !== 'number' || !Number.isFinite(h.value)) throw new SpecError(`${f}.value`, 'must be a number');
    if (key.startsWith('HEATMAP(')) throw new SpecError(f, 'cannot filter on a HEATMAP');
    return { key, op: h.op, value: h.value };
  });

  const limit = spec.limit ?? DEFAULT_LIMIT;
  if (!isInt(limit) || limit < 1 || limit > MAX_LIMIT) throw new SpecError('limit', `must be an integer from 1 to ${MAX_LIMIT}`);

  if (spec.compare_time_offset_seconds !== undefined && spec.compare_time_offset_seconds !== null) {
    throw new SpecError('compare_time_offset_seconds', 'is not supported by this backend (time comparison queries run on Honeycomb only)');
  }
  const { startTime, endTime } = resolveTime(spec, nowSeconds);
  const range = endTime - startTime;
  let granularity = spec.granularity;
  // 0 means "automatic", as Honeycomb's query builder exports it.
  if (granularity === undefined || granularity === null || granularity === 0) granularity = Math.max(1, Math.ceil(range / 100));
  if (!isInt(granularity) || granularity < 1) throw new SpecError('granularity', 'must be a positive integer number of seconds');
  if (granularity > range) throw new SpecError('granularity', 'must not exceed the time range');
  if (range / granularity > MAX_BUCKETS) {
    throw new SpecError('granularity', `must be at least time range / ${MAX_BUCKETS} (${Math.ceil(range / MAX_BUCKETS)} s)`);
  }

  return {
    calculations,
    filters,
    filterCombination: fc,
    breakdowns,
    orders,
    havings,
    limit,
    startTime,
    endTime,
    granularity,
    raw: spec as QuerySpec,
  };
}

/** A string that reads as a finite number, as a number; else undefined. */
function numericText(v: string): number | undefined {
  if (v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function validateFilter(
  f: unknown,
  field: string,
  column: (field: string, v: unknown) => QueryColumn,
): ValidFilter {
  if (!isObject(f)) throw new SpecError(field, 'must be an object with "column", "op" and usually "value"');
  const op = f.op;
  if (typeof op !== 'string' || !(FILTER_OPS as readonly string[]).includes(op)) {
    throw new SpecError(`${field}.op`, `must be one of ${FILTER_OPS.join(', ')}`);
  }
  const col = column(`${field}.column`, f.column);
  const value = f.value;
  const vf = `${field}.value`;
  // The value takes the column's type; on a mixed (text and numbers) column a number compares with the values
  // that read as numbers, so `mixed > 100` never compares digits as text.
  const scalar = (v: unknown, where: string): FilterScalar => {
    if (col.kind === 'number') {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? (numericText(v) ?? Number.NaN) : Number.NaN;
      if (!Number.isFinite(n)) throw new SpecError(where, `must be a number: ${JSON.stringify(col.key)} is numeric`);
      return n;
    }
    if (col.kind === 'bool') {
      if (v === true || v === 'true') return true;
      if (v === false || v === 'false') return false;
      throw new SpecError(where, `must be true or false: ${JSON.stringify(col.key)} is boolean`);
    }
    if (typeof v === 'number' && !Number.isFinite(v)) throw new SpecError(where, 'must be a finite number');
    if (col.kind === 'any' && typeof v === 'number') return v;
    if (col.kind === 'any' && typeof v === 'string') return numericText(v) ?? v;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new SpecError(where, 'must be a string, number or boolean');
  };
  switch (op as FilterOp) {
    case 'exists':
    case 'does-not-exist':
      if (value !== undefined && value !== null) throw new SpecError(vf, `${op} does not take a value`);
      return { column: col, op: op as FilterOp, value: undefined };
    case 'in':
    case 'not-in': {
      if (!Array.isArray(value) || value.length === 0) throw new SpecError(vf, `must be a non-empty array for ${op}`);
      return { column: col, op: op as FilterOp, value: value.map((v, i) => scalar(v, `${vf}[${i}]`)) };
    }
    case 'starts-with':
    case 'does-not-start-with':
    case 'ends-with':
    case 'does-not-end-with':
    case 'contains':
    case 'does-not-contain':
      if (typeof value !== 'string' && typeof value !== 'number') throw new SpecError(vf, `must be a string for ${op}`);
      return { column: col, op: op as FilterOp, value: String(value) };
    case '>':
    case '>=':
    case '<':
    case '<=':
      if (col.kind === 'bool') throw new SpecError(`${field}.op`, `${op} does not apply to boolean column ${JSON.stringify(col.key)}`);
      return { column: col, op: op as FilterOp, value: scalar(value, vf) };
    default:
      if (value === undefined || value === null) throw new SpecError(vf, `is required for ${op}`);
      return { column: col, op: op as FilterOp, value: scalar(value, vf) };
  }
}

// ---- Size limits (issue 20): what one query may ask for, checked before anything else in it.

/** Items in each list of a spec, at most: Honeycomb's Query API documents 100 for these (`maxItems`). */
export const MAX_SPEC_ITEMS = 100;
const LISTS = ['calculations', 'filters', 'breakdowns', 'orders', 'havings'] as const;
/** Values of one `in` / `not-in` filter, at most (Waggle's: Honeycomb documents none). */
export const MAX_IN_VALUES = 1000;

/**
 * Refuses a spec (or a BubbleUp body, or its selection) whose lists are longer than Honeycomb allows, or an
 * `in` / `not-in` filter with more than {@link MAX_IN_VALUES} values: each becomes SQL, so size is cost.
 */
export function checkSpecSize(spec: Record<string, unknown>, prefix = ''): void {
  for (const field of LISTS) {
    const v = spec[field];
    if (Array.isArray(v) && v.length > MAX_SPEC_ITEMS) {
      throw new SpecError(`${prefix}${field}`, `has ${v.length} items; at most ${MAX_SPEC_ITEMS} (WAGGLE_BACKEND_QUERY_TOO_LARGE)`);
    }
  }
  const filters = spec.filters;
  if (!Array.isArray(filters)) return;
  filters.forEach((f: unknown, i) => {
    const values = isObject(f) ? f.value : undefined;
    if (Array.isArray(values) && values.length > MAX_IN_VALUES) {
      throw new SpecError(`${prefix}filters[${i}].value`, `has ${values.length} values; at most ${MAX_IN_VALUES} (WAGGLE_BACKEND_QUERY_TOO_LARGE)`);
    }
  });
}

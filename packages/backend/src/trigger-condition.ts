// A trigger's condition in one line, as the CLI and the web UI show it. A subpath export with no runtime imports, so
// the browser bundle stays small.
import type { Trigger } from './triggers.js';

/** `COUNT where name = retry_storm > 50`, `P99(duration_ms) by http.route >= 1000`. */
export function triggerCondition(t: Pick<Trigger, 'query' | 'threshold'>): string {
  const calc = t.query.calculations?.[0] ?? { op: 'COUNT' };
  const filters = (t.query.filters ?? []).map((f) => `${f.column} ${f.op}${f.value === undefined ? '' : ` ${Array.isArray(f.value) ? f.value.join(',') : String(f.value)}`}`);
  const where = filters.length ? ` where ${filters.join(t.query.filter_combination === 'OR' ? ' OR ' : ' AND ')}` : '';
  const by = t.query.breakdowns?.length ? ` by ${t.query.breakdowns.join(', ')}` : '';
  return `${calc.column ? `${calc.op}(${calc.column})` : calc.op}${where}${by} ${t.threshold.op} ${t.threshold.value}`;
}

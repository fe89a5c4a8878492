// The query builder's state lives in the URL (`spec` as JSON, `dataset`), so any view can be shared.
import { listCalculatedFields, listColumns, saveCalculatedField, type CalculatedField, type Calculation, type Filter, type FilterValue, type QuerySpec } from './api.js';
import { h } from './dom.js';

export const CALC_OPS = ['COUNT', 'CONCURRENCY', 'SUM', 'AVG', 'COUNT_DISTINCT', 'HEATMAP', 'MAX', 'MIN', 'P001', 'P01', 'P05', 'P10', 'P20', 'P25', 'P50', 'P75', 'P80', 'P90', 'P95', 'P99', 'P999', 'RATE_AVG', 'RATE_SUM', 'RATE_MAX'];
export const FILTER_OPS = ['=', '!=', '>', '>=', '<', '<=', 'starts-with', 'does-not-start-with', 'ends-with', 'does-not-end-with', 'exists', 'does-not-exist', 'contains', 'does-not-contain', 'in', 'not-in'];
export const TIME_RANGES: Array<[number, string]> = [[900, 'Last 15 minutes'], [1800, 'Last 30 minutes'], [3600, 'Last hour'], [7200, 'Last 2 hours'], [21600, 'Last 6 hours'], [86400, 'Last 24 hours'], [604800, 'Last 7 days']];

export const DEFAULT_SPEC: QuerySpec = { calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], time_range: 1800 };

export function specFromParams(params: URLSearchParams, fallback: QuerySpec = DEFAULT_SPEC): QuerySpec {
  const raw = params.get('spec');
  if (!raw) return structuredClone(fallback);
  try {
    return JSON.parse(raw) as QuerySpec;
  } catch {
    return structuredClone(fallback);
  }
}

/** One typed filter value: booleans and numbers as such, anything else as text. */
function filterValue(t: string): FilterValue {
  const s = t.trim();
  if (s === 'true') return true;
  if (s === 'false') return false;
  return s !== '' && !Number.isNaN(Number(s)) ? Number(s) : s;
}

export function parseFilterValue(op: string, text: string): FilterValue | FilterValue[] | undefined {
  if (op === 'exists' || op === 'does-not-exist') return undefined;
  return op === 'in' || op === 'not-in' ? text.split(',').map(filterValue) : filterValue(text);
}

function select(options: string[], value: string, cls: string): HTMLSelectElement {
  const el = h('select', { class: cls }, ...options.map((o) => h('option', { value: o, selected: o === value }, o)));
  return el;
}

/**
 * The column pickers' suggestions (one datalist every column input uses): the dataset's columns that are not hidden
 * (Columns API), its saved calculated fields (Calculated Fields API) and the calculated fields of the query itself.
 */
function columnPicker(): { list: HTMLDataListElement; load(dataset: string): Promise<void>; setInline(names: string[]): void } {
  const list = h('datalist', { id: 'column-options' });
  let stored: HTMLOptionElement[] = [];
  let inline: HTMLOptionElement[] = [];
  const render = () => list.replaceChildren(...inline, ...stored);
  return {
    list,
    async load(dataset) {
      const [columns, fields] = await Promise.all([listColumns(dataset).catch(() => []), listCalculatedFields(dataset).catch(() => [])]);
      stored = [
        ...fields.map((f) => h('option', { value: f.alias, label: `calculated: ${f.expression}`, 'data-kind': 'calculated' })),
        ...columns.filter((c) => !c.hidden).map((c) => h('option', { value: c.key_name, label: c.description || c.type, 'data-kind': 'column' })),
      ];
      render();
      list.dataset.loaded = dataset;
    },
    setInline(names) {
      inline = names.map((n) => h('option', { value: n, label: 'calculated (this query)', 'data-kind': 'inline' }));
      render();
    },
  };
}

/** An input that suggests the dataset's columns and calculated fields. */
function columnInput(props: Record<string, unknown>): HTMLInputElement {
  const input = h('input', props);
  input.setAttribute('list', 'column-options'); // `list` is a read-only property: set the attribute
  return input;
}

/** Renders the builder and calls onRun with the spec the user composed. */
export function specForm(spec: QuerySpec, datasets: string[], dataset: string, onRun: (spec: QuerySpec, dataset: string) => void): HTMLFormElement {
  const picker = columnPicker();
  const calcList = h('div', { class: 'rows', id: 'calcs' });
  const filterList = h('div', { class: 'rows', id: 'filters' });
  const fieldList = h('div', { class: 'rows', id: 'calculated-field-rows' });
  const fieldStatus = h('p', { class: 'hint', id: 'calculated-field-status' });
  const addCalc = (c: Calculation) => {
    const row = h('div', { class: 'row calc-row' }, select(CALC_OPS, c.op, 'calc-op'), columnInput({ class: 'calc-column', placeholder: 'column', value: c.column ?? '' }), h('button', { type: 'button', class: 'remove', onclick: () => row.remove() }, '×'));
    calcList.append(row);
  };
  const addFilter = (f: Filter) => {
    const value = Array.isArray(f.value) ? f.value.join(',') : f.value === undefined ? '' : String(f.value);
    const row = h('div', { class: 'row filter-row' }, columnInput({ class: 'filter-column', placeholder: 'column', value: f.column }), select(FILTER_OPS, f.op, 'filter-op'), h('input', { class: 'filter-value', placeholder: 'value', value }), h('button', { type: 'button', class: 'remove', onclick: () => row.remove() }, '×'));
    filterList.append(row);
  };
  const fields = (): CalculatedField[] =>
    [...fieldList.querySelectorAll<HTMLElement>('.cf-row')]
      .map((row) => ({ name: row.querySelector<HTMLInputElement>('.cf-name')!.value.trim(), expression: row.querySelector<HTMLInputElement>('.cf-expression')!.value.trim() }))
      .filter((f) => f.name && f.expression);
  const syncInline = () => picker.setInline(fields().map((f) => f.name));
  // A calculated field for this query; "Save" keeps it for the dataset (it then comes back in the pickers by name).
  const addField = (f: CalculatedField) => {
    const name = h('input', { class: 'cf-name', placeholder: 'name', value: f.name, oninput: syncInline });
    const expression = h('input', { class: 'cf-expression', placeholder: 'IF(GTE($duration_ms, 1000), "slow", "fast")', value: f.expression, oninput: syncInline, size: 48 });
    const save = async () => {
      try {
        const saved = await saveCalculatedField(datasetSelect.value, { alias: name.value.trim(), expression: expression.value.trim() });
        row.remove();
        syncInline();
        fieldStatus.className = 'ok';
        fieldStatus.textContent = `Saved ${saved.alias} to ${datasetSelect.value}`;
        await picker.load(datasetSelect.value);
      } catch (error) {
        fieldStatus.className = 'error';
        fieldStatus.textContent = (error as Error).message;
      }
    };
    const row = h('div', { class: 'row cf-row' }, name, h('span', {}, '='), expression, h('button', { type: 'button', class: 'cf-save', onclick: () => void save() }, 'Save'), h('button', { type: 'button', class: 'remove', onclick: () => (row.remove(), syncInline()) }, '×'));
    fieldList.append(row);
  };
  (spec.calculations ?? []).forEach(addCalc);
  (spec.filters ?? []).forEach(addFilter);
  (spec.calculated_fields ?? []).forEach(addField);
  syncInline();
  const groupBy = columnInput({ id: 'group-by', placeholder: 'e.g. http.route, service.name', value: (spec.breakdowns ?? []).join(', ') });
  const range = h('select', { id: 'time-range' }, ...TIME_RANGES.map(([s, label]) => h('option', { value: String(s), selected: s === (spec.time_range ?? 1800) }, label)));
  const datasetSelect = select(['__all__', ...datasets.filter((d) => d !== '__all__')], dataset, 'dataset');
  datasetSelect.id = 'dataset';
  datasetSelect.addEventListener('change', () => void picker.load(datasetSelect.value));
  void picker.load(dataset);

  const form = h(
    'form',
    { class: 'builder', id: 'query-form' },
    h('label', {}, 'Dataset', datasetSelect),
    h('fieldset', {}, h('legend', {}, 'Visualize'), calcList, h('button', { type: 'button', id: 'add-calc', onclick: () => addCalc({ op: 'COUNT' }) }, '+ calculation')),
    h('fieldset', {}, h('legend', {}, 'Where'), filterList, h('button', { type: 'button', id: 'add-filter', onclick: () => addFilter({ column: '', op: '=', value: '' }) }, '+ filter')),
    h('fieldset', { id: 'calculated-fields' }, h('legend', {}, 'Calculated fields'), fieldList, h('button', { type: 'button', id: 'add-calculated-field', onclick: () => addField({ name: '', expression: '' }) }, '+ calculated field'), fieldStatus),
    h('label', {}, 'Group by', groupBy),
    h('label', {}, 'Time', range),
    h('button', { type: 'submit', id: 'run-query', class: 'primary' }, 'Run query'),
    picker.list,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next: QuerySpec = { time_range: Number(range.value) };
    const own = fields();
    if (own.length) next.calculated_fields = own;
    next.calculations = [...calcList.querySelectorAll<HTMLElement>('.calc-row')].map((row) => {
      const op = row.querySelector<HTMLSelectElement>('.calc-op')!.value;
      const column = row.querySelector<HTMLInputElement>('.calc-column')!.value.trim();
      return op === 'COUNT' || op === 'CONCURRENCY' || !column ? { op } : { op, column };
    });
    const filters = [...filterList.querySelectorAll<HTMLElement>('.filter-row')]
      .map((row) => {
        const column = row.querySelector<HTMLInputElement>('.filter-column')!.value.trim();
        const op = row.querySelector<HTMLSelectElement>('.filter-op')!.value;
        const value = parseFilterValue(op, row.querySelector<HTMLInputElement>('.filter-value')!.value);
        return value === undefined ? { column, op } : { column, op, value };
      })
      .filter((f) => f.column);
    if (filters.length) next.filters = filters;
    const breakdowns = groupBy.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (breakdowns.length) next.breakdowns = breakdowns;
    onRun(next, datasetSelect.value);
  });
  return form;
}

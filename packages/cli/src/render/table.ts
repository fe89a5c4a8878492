import { stripVTControlCharacters } from 'node:util';
import { formatValue, pad } from './format.js';

export interface Column {
  header: string;
  /** Right-align (numbers). */
  numeric?: boolean;
}

/** A plain aligned table: header, a rule, then rows. Cells are pre-rendered strings or values. */
export function renderTable(columns: Column[], rows: unknown[][]): string {
  const cells = rows.map((row) => row.map((v) => (typeof v === 'string' ? v : formatValue(v))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => stripVTControlCharacters(r[i] ?? '').length)));
  const line = (values: string[]) =>
    values.map((v, i) => pad(v, widths[i] ?? 0, columns[i]?.numeric)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

// What a BubbleUp column shows: its top values, or for a numeric column the value ranges that differ most.
// Shared by the CLI and the web UI; a subpath export with no runtime imports, so the browser bundle stays small.
import type { BubbleUpColumn } from './bubbleup.js';

export interface BubbleUpRow {
  label: string;
  /** Fraction of the selection with this value or range. */
  selection: number;
  /** Fraction of the baseline with this value or range. */
  baseline: number;
}

/** Up to `limit` rows of one column; `format` renders range bounds. */
export function bubbleUpRows(c: BubbleUpColumn, format: (n: number) => string, limit = 5): BubbleUpRow[] {
  if (c.values) {
    return [...c.values]
      .toSorted((a, b) => Math.max(b.selection, b.baseline) - Math.max(a.selection, a.baseline))
      .slice(0, limit)
      .map((v) => ({ label: v.value === null ? '(none)' : String(v.value), selection: v.selection, baseline: v.baseline }));
  }
  return (c.buckets ?? [])
    .filter((b) => b.selection > 0 || b.baseline > 0)
    .toSorted((a, b) => Math.abs(b.selection - b.baseline) - Math.abs(a.selection - a.baseline))
    .slice(0, limit)
    .toSorted((a, b) => a.lower - b.lower)
    .map((b) => ({ label: `${format(b.lower)}–${format(b.upper)}`, selection: b.selection, baseline: b.baseline }));
}

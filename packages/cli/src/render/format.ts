/** "1 span", "2 spans": a count with its noun in the right number. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Numbers read at a glance: integers as is, others to 3 significant decimals; null as a dash. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return String(value);
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs >= 100 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toPrecision(3);
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Visible width, ignoring ANSI colour codes. */
export function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

export function pad(s: string, width: number, right = false): string {
  const gap = Math.max(0, width - visibleLength(s));
  return right ? ' '.repeat(gap) + s : s + ' '.repeat(gap);
}

/** A horizontal bar of `fraction` (0..1) of `width` cells, with eighth-block precision. */
export function bar(fraction: number, width: number): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const part = eighths % 8;
  return '█'.repeat(full) + (part ? (['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][part] ?? '') : '');
}

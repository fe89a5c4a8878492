// A tiny element builder: enough to keep pages declarative without a framework.
type Child = Node | string | number | null | undefined | false;
type Props = Record<string, unknown> & { class?: string; style?: string };

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    else if (key === 'class') el.className = String(value);
    // Through the CSSOM, which the Content-Security-Policy allows (a style attribute would need 'unsafe-inline').
    else if (key === 'style') el.style.cssText = String(value);
    else if (key in el && !key.startsWith('data-')) (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs >= 100 ? value.toFixed(1) : abs >= 1 ? value.toFixed(2) : value.toPrecision(3);
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

export const SERVICE_COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];

export function errorBox(error: unknown): HTMLElement {
  return h('div', { class: 'error' }, `Error: ${(error as Error)?.message ?? String(error)}`);
}

export function isTraceId(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{32}$/.test(v);
}

export function traceLink(traceId: string): HTMLAnchorElement {
  return h('a', { href: `#/trace/${traceId}`, class: 'trace-link' }, traceId);
}

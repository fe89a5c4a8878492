import type { Span, TracesData } from '@waggle/otlp';

let counter = 0;
function hex(bytes: number): string {
  counter++;
  return (counter.toString(16).padStart(8, '0') + 'ab'.repeat(bytes)).slice(0, bytes * 2);
}

export function makeSpan(overrides: Partial<Span> = {}): Span {
  const start = BigInt(Date.now() - 60_000) * 1_000_000n;
  return {
    traceId: hex(16),
    spanId: hex(8),
    parentSpanId: '',
    traceState: '',
    flags: 1,
    name: 'op',
    kind: 2,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 5_000_000n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...overrides,
  };
}

export function traces(service: string, spans: Span[], resourceAttributes: Record<string, string> = {}): TracesData {
  return {
    resourceSpans: [
      {
        resource: { attributes: { 'service.name': service, ...resourceAttributes }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeSpans: [{ scope: { name: 'test-scope', version: '1.2.3', attributes: {} }, schemaUrl: '', spans }],
      },
    ],
  };
}

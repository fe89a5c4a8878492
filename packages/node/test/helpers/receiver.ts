// Interim OTLP/HTTP JSON receiver for the child-process tests, until @waggle/testing's receiver (protobuf and
// JSON) lands on main; the tests then switch to it. Children export with OTEL_EXPORTER_OTLP_PROTOCOL=http/json.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  serviceName: string;
  scope: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
}

export interface Receiver {
  url: string;
  spans: ReceivedSpan[];
  requests: number;
  waitForSpans(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: AnyValue[] } };

function value(v: AnyValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attrs(list: Array<{ key: string; value: AnyValue }> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = value(a.value);
  return out;
}

export async function startJsonReceiver(): Promise<Receiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          const resource = attrs(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                name: s.name,
                kind: s.kind,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                serviceName: String(resource['service.name']),
                scope: ss.scope?.name ?? '',
                attributes: attrs(s.attributes),
                status: s.status ?? {},
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end('expected OTLP JSON');
      }
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    spans,
    get requests() {
      return requests;
    },
    async waitForSpans(predicate, timeoutMs = 15_000) {
      if (predicate(spans)) return spans;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`spans not received in ${timeoutMs} ms; got: ${spans.map((s) => `${s.serviceName}:${s.name}`).join(', ') || 'none'}`));
        }, timeoutMs);
        const check = (): void => {
          if (!predicate(spans)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(spans);
        };
        waiters.add(check);
      });
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  } as Receiver;
}

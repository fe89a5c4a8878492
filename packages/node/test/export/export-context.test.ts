// The export's own HTTP request belongs to no app request, whichever request's span end armed the batch timer.
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { context, trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { drive, startApp, waitFor, type TestApp } from './app.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

let server: FaultServer | undefined;
let app: TestApp | undefined;

afterEach(async () => {
  await app?.close();
  await server?.close();
  app = undefined;
  server = undefined;
});

describe('the export request', () => {
  it('is sent from the root context, not from the request whose span end scheduled it', async () => {
    server = await startFaultServer('ok');
    const port = new URL(server.url).port;
    // What an instrumentation of outgoing requests sees when the exporter's request is created.
    const activeSpans: (string | undefined)[] = [];
    const onCreated = (message: unknown): void => {
      const request = (message as { request: ClientRequest }).request;
      if (request.getHeader('host') !== `127.0.0.1:${port}`) return;
      activeSpans.push(trace.getSpan(context.active())?.spanContext().spanId);
    };
    diagnosticsChannel.subscribe('http.client.request.created', onCreated);
    try {
      app = await startApp({ destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 1000 }, tuning: { scheduledDelayMs: 20 } });
      await drive(app.url, 3, 1);
      expect(await waitFor(() => server!.spans.length >= 6, 5000)).toBe(true);
      expect(activeSpans.length).toBeGreaterThan(0);
      expect(activeSpans.every((id) => id === undefined)).toBe(true);
    } finally {
      diagnosticsChannel.unsubscribe('http.client.request.created', onCreated);
    }
  });
});

'use strict';
// Express app for bench/runtime-fields.mjs. RUNTIME_FIELDS=on|off toggles only the wide fields;
// everything else (SDK, http instrumentation, batch export to a no-op exporter, logger cost, crash capture)
// is identical, so the difference is what the fields cost.
const { context, trace } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { TracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { createRuntimeTelemetry } = require('@waggle/instrumentation-runtime');

const fields = process.env.RUNTIME_FIELDS !== 'off';
const runtime = createRuntimeTelemetry({ spanFields: fields, restarts: { enabled: false } });
// Exports succeed instantly: the bench measures the in-process cost, not a collector.
const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
const provider = new TracerProvider({
  spanProcessors: [runtime.spanProcessor, new BatchSpanProcessor({ exporter, maxQueueSize: 8192 })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
registerInstrumentations({ tracerProvider: provider, instrumentations: [new HttpInstrumentation(), runtime.instrumentation] });

const express = require('express');
const app = express();
app.get('/orders/:id', (req, res) => {
  res.json({ id: req.params.id, items: [1, 2, 3], total: 42 });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});

// The variants compared side by side. Each exports every span of every request to the same sink. `esmArgs` (and
// `esmLabel`) are the flags for the ES module app (app.mjs) where they differ from the CommonJS app's `args`; `apps`
// limits a variant to one module system.
export function variants(sinkUrl, compare) {
  const otlp = {
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  };
  return [
    { name: 'bare', args: [], env: {} },
    // `--compare <register.js>`: another build of @waggle/node (a checkout of an earlier commit) beside this one.
    ...(compare ? [{ name: 'waggle-compare', label: `waggle from ${compare}`, args: ['--import', compare], env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle' } }] : []),
    { name: 'waggle', args: ['--import', '@waggle/node/register'], env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle' } },
    {
      // Same distro with the upstream @opentelemetry/instrumentation-http instead of Waggle's channel-based one:
      // the A/B behind choosing the lean instrumentation as the default.
      name: 'waggle-upstream-http',
      label: 'waggle with upstream instrumentation-http',
      args: ['--import', '@waggle/node/register'],
      env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle-uh', WAGGLE_INSTRUMENTATIONS: 'http-upstream,undici,express' },
      apps: ['cjs'],
    },
    {
      // Diagnostic variant (not run by default): Waggle without the express instrumentation, i.e. one SERVER span per
      // request and no http.route. Shows what the express layer spans and route capture cost.
      name: 'waggle-no-express',
      label: 'waggle without express instrumentation (diagnostic)',
      optional: true,
      args: ['--import', '@waggle/node/register'],
      env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle-ne', WAGGLE_INSTRUMENTATIONS: 'http,undici' },
    },
    {
      name: 'otel-auto',
      label: 'stock `--import @opentelemetry/auto-instrumentations-node/register` (tuned batch)',
      args: ['--import', '@opentelemetry/auto-instrumentations-node/register'],
      env: {
        ...otlp,
        OTEL_SERVICE_NAME: 'bench-otel',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
        // Tuned so the stock SDK can deliver every span (its defaults drop ~98% at this load).
        OTEL_BSP_MAX_QUEUE_SIZE: '200000',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2048',
      },
    },
    {
      name: 'dd-trace',
      label: 'dd-trace (`--require dd-trace/init`, agent stub)',
      esmLabel: 'dd-trace (`--import dd-trace/initialize.mjs`, agent stub)',
      args: ['--require', 'dd-trace/init'],
      esmArgs: ['--import', 'dd-trace/initialize.mjs'],
      env: {
        // The sink doubles as a Datadog agent stub: it answers /info and counts /v0.4/traces payloads.
        DD_TRACE_AGENT_URL: sinkUrl,
        DD_SERVICE: 'bench-dd',
        DD_TRACE_SAMPLE_RATE: '1',
        // Flush as often as the OTel variants (200 ms) so idle calibration sees the spans.
        DD_TRACE_FLUSH_INTERVAL: '200',
        DD_TRACE_STARTUP_LOGS: 'false',
        DD_REMOTE_CONFIGURATION_ENABLED: 'false',
        DD_INSTRUMENTATION_TELEMETRY_ENABLED: 'false',
        DD_RUNTIME_METRICS_ENABLED: 'false',
        DD_PROFILING_ENABLED: 'false',
        DD_DATA_STREAMS_ENABLED: 'false',
        DD_APPSEC_ENABLED: 'false',
        DD_DOGSTATSD_PORT: '1',
      },
    },
  ];
}

/** The module systems measured: the same express app as CommonJS and as an ES module. */
export const APPS = [
  { id: 'cjs', file: 'app.cjs', label: 'CJS' },
  { id: 'esm', file: 'app.mjs', label: 'ESM' },
];

/**
 * One entry per variant and module system: `waggle` (CommonJS app) and `waggle-esm` (ES module app), and so on,
 * each with the arguments, app file and label to run it with.
 */
export function variantsByApp(sinkUrl, apps = APPS.map((a) => a.id), compare = undefined) {
  const out = [];
  // Variant-major: the two module systems of one variant run back to back, so they see the same machine.
  for (const v of variants(sinkUrl, compare)) {
    for (const app of APPS.filter((a) => apps.includes(a.id))) {
      if (v.apps !== undefined && !v.apps.includes(app.id)) continue;
      out.push({
        ...v,
        name: app.id === 'cjs' ? v.name : `${v.name}-${app.id}`,
        base: v.name,
        app: app.file,
        module: app.id,
        label: `${app.label}: ${(app.id === 'esm' ? v.esmLabel : undefined) ?? v.label ?? v.name}`,
        args: app.id === 'esm' && v.esmArgs !== undefined ? v.esmArgs : v.args,
      });
    }
  }
  return out;
}

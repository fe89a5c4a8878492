// The variants compared side by side. Each exports every span of every request to the same sink.
export function variants(sinkUrl) {
  const otlp = {
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
  };
  return [
    { name: 'bare', args: [], env: {} },
    { name: 'waggle', args: ['--import', '@waggle/node/register'], env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle' } },
    {
      // Same distro with the upstream @opentelemetry/instrumentation-http instead of Waggle's channel-based one:
      // the A/B behind choosing the lean instrumentation as the default.
      name: 'waggle-upstream-http',
      label: 'waggle with upstream instrumentation-http',
      args: ['--import', '@waggle/node/register'],
      env: { ...otlp, OTEL_SERVICE_NAME: 'bench-waggle-uh', WAGGLE_INSTRUMENTATIONS: 'http-upstream,undici,express' },
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
      args: ['--require', 'dd-trace/init'],
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

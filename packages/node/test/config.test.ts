// Configuration precedence and Honeycomb settings, resolved in-process from explicit env objects.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isClassicKey, resolveConfig } from '../src/config.js';

const CLASSIC_HEX = '0123456789abcdef0123456789abcdef';
const CLASSIC_INGEST = `hcaic_${'a'.repeat(58)}`;
const ENV_KEY = 'Xk3jP9sA0bC1dE2fG3hI4j';

afterEach(() => vi.restoreAllMocks());

function captureStderr(): () => string {
  let out = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  return () => out;
}

describe('destination', () => {
  it('defaults to the local backend over http/protobuf', () => {
    const c = resolveConfig({}, {});
    expect(c.backend).toBe('local');
    expect(c.endpointConfigured).toBe(false);
    expect(c.tracesUrl).toBe('http://127.0.0.1:4318/v1/traces');
    expect(c.protocol).toBe('http/protobuf');
    expect(c.headers).toEqual({});
  });

  it('an endpoint set to the local backend counts as configured (no "local default" line)', () => {
    const c = resolveConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
    expect([c.backend, c.endpointConfigured]).toEqual(['local', true]);
  });

  it('a Honeycomb key alone sends to api.honeycomb.io, or api.eu1.honeycomb.io with HONEYCOMB_REGION=eu', () => {
    expect(resolveConfig({}, { HONEYCOMB_API_KEY: ENV_KEY }).tracesUrl).toBe('https://api.honeycomb.io/v1/traces');
    const eu = resolveConfig({}, { HONEYCOMB_API_KEY: ENV_KEY, HONEYCOMB_REGION: 'EU' });
    expect(eu.tracesUrl).toBe('https://api.eu1.honeycomb.io/v1/traces');
    expect(eu.honeycomb?.region).toBe('eu');
  });

  it('HONEYCOMB_API_ENDPOINT and OTEL_EXPORTER_OTLP_ENDPOINT get /v1/traces; the traces endpoint is used as is', () => {
    expect(resolveConfig({}, { HONEYCOMB_API_ENDPOINT: 'https://proxy.test/', HONEYCOMB_API_KEY: ENV_KEY }).tracesUrl).toBe('https://proxy.test/v1/traces');
    const both = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', HONEYCOMB_API_ENDPOINT: 'https://proxy.test' };
    expect(resolveConfig({}, both).tracesUrl).toBe('http://collector:4318/v1/traces');
    expect(resolveConfig({}, { ...both, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:9/custom' }).tracesUrl).toBe('http://c:9/custom');
  });

  it('code options win over environment variables, which win over defaults', () => {
    const env = { OTEL_SERVICE_NAME: 'from-env', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    const fromEnv = resolveConfig({}, env);
    expect([fromEnv.serviceName, fromEnv.tracesUrl, fromEnv.protocol]).toEqual(['from-env', 'http://env:4318/v1/traces', 'http/json']);
    const fromCode = resolveConfig({ serviceName: 'from-code', endpoint: 'http://code:4318', protocol: 'http/protobuf' }, env);
    expect([fromCode.serviceName, fromCode.tracesUrl, fromCode.protocol]).toEqual(['from-code', 'http://code:4318/v1/traces', 'http/protobuf']);
  });

  it('service.name falls back to OTEL_RESOURCE_ATTRIBUTES, then the entry script\'s name, then unknown_service', () => {
    expect(resolveConfig({}, { OTEL_RESOURCE_ATTRIBUTES: 'service.name=billing,team=core' }).serviceName).toBe('billing');
    const argv = process.argv;
    try {
      process.argv = [argv[0]!, '/srv/shop/checkout.mjs'];
      expect(resolveConfig({}, {}).serviceName).toBe('checkout');
      process.argv = [argv[0]!, '/srv/shop/worker.ts'];
      expect(resolveConfig({}, {}).serviceName).toBe('worker');
      process.argv = [argv[0]!];
      expect(resolveConfig({}, {}).serviceName).toMatch(/^unknown_service:/);
    } finally {
      process.argv = argv;
    }
  });
});

describe('Honeycomb keys', () => {
  it('detects classic keys: 32 hex characters or 64-character hc?ic_ ingest keys', () => {
    expect(isClassicKey(CLASSIC_HEX)).toBe(true);
    expect(isClassicKey(CLASSIC_INGEST)).toBe(true);
    expect(isClassicKey(`hcxic_${'0'.repeat(58)}`)).toBe(true);
    expect(isClassicKey(ENV_KEY)).toBe(false);
    expect(isClassicKey(`hcaik_${'a'.repeat(58)}`)).toBe(false);
  });

  it('classic keys send x-honeycomb-dataset (HONEYCOMB_DATASET, else service.name)', () => {
    const withDataset = resolveConfig({}, { HONEYCOMB_API_KEY: CLASSIC_HEX, HONEYCOMB_DATASET: 'prod-api', OTEL_SERVICE_NAME: 'api' });
    expect(withDataset.headers).toEqual({ 'x-honeycomb-team': CLASSIC_HEX, 'x-honeycomb-dataset': 'prod-api' });
    expect(resolveConfig({}, { HONEYCOMB_API_KEY: CLASSIC_INGEST, OTEL_SERVICE_NAME: 'api' }).headers['x-honeycomb-dataset']).toBe('api');
  });

  it('environment keys send only x-honeycomb-team, and a dataset setting is reported as ignored', () => {
    const stderr = captureStderr();
    const c = resolveConfig({}, { HONEYCOMB_API_KEY: ENV_KEY, HONEYCOMB_DATASET: 'ignored', OTEL_SERVICE_NAME: 'api' });
    expect(c.headers).toEqual({ 'x-honeycomb-team': ENV_KEY });
    expect(stderr()).toContain('WAGGLE_CONFIG_IGNORED HONEYCOMB_DATASET is only used with classic keys');
    expect(stderr()).not.toContain(ENV_KEY);
  });
});

describe('invalid values', () => {
  it('an unsupported protocol falls back to http/protobuf with one line naming the accepted values', () => {
    const stderr = captureStderr();
    expect(resolveConfig({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).protocol).toBe('http/protobuf');
    expect(stderr()).toBe('waggle: WAGGLE_CONFIG_INVALID OTEL_EXPORTER_OTLP_PROTOCOL="grpc" is not valid; accepted: http/protobuf or http/json; using http/protobuf\n');
  });

  it('WAGGLE_QUEUE_CONTEXT chooses link (default) or parent; the start() option wins; anything else is reported', () => {
    expect(resolveConfig({}, {}).queueContext).toBe('link');
    expect(resolveConfig({}, { WAGGLE_QUEUE_CONTEXT: 'parent' }).queueContext).toBe('parent');
    expect(resolveConfig({ queueContext: 'link' }, { WAGGLE_QUEUE_CONTEXT: 'parent' }).queueContext).toBe('link');
    const stderr = captureStderr();
    expect(resolveConfig({}, { WAGGLE_QUEUE_CONTEXT: 'child' }).queueContext).toBe('link');
    expect(stderr()).toBe('waggle: WAGGLE_CONFIG_INVALID WAGGLE_QUEUE_CONTEXT="child" is not valid; accepted: link or parent; using link\n');
  });

  it('a malformed endpoint URL is ignored and the next source is used', () => {
    captureStderr();
    expect(resolveConfig({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }).tracesUrl).toBe('http://127.0.0.1:4318/v1/traces');
  });

  it('reads the sampler, instrumentation selection and batch tuning', () => {
    const c = resolveConfig({}, {
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      WAGGLE_INSTRUMENTATIONS: 'http, express',
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pino',
      OTEL_BSP_MAX_QUEUE_SIZE: '5000',
      OTEL_PROPAGATORS: 'tracecontext',
    });
    // A ratio of 0.25 is Honeycomb's SampleRate 4.
    expect(c.sampling.rate).toBe(4);
    expect(c.enabledInstrumentations).toEqual(['http', 'express']);
    expect(c.disabledInstrumentations).toEqual(['pino']);
    expect(c.exportOptions.tuning?.maxQueueSpans).toBe(5000);
    expect(c.propagators).toEqual(['tracecontext']);
  });

  it('WAGGLE_SEQUELIZE_SPANS is query (default) or full; anything else is reported and gives query', () => {
    expect(resolveConfig({}, {}).sequelizeSpans).toBe('query');
    expect(resolveConfig({}, { WAGGLE_SEQUELIZE_SPANS: 'FULL' }).sequelizeSpans).toBe('full');
    expect(resolveConfig({ sequelizeSpans: 'query' }, { WAGGLE_SEQUELIZE_SPANS: 'full' }).sequelizeSpans).toBe('query');
    const stderr = captureStderr();
    expect(resolveConfig({}, { WAGGLE_SEQUELIZE_SPANS: 'all' }).sequelizeSpans).toBe('query');
    expect(stderr()).toMatch(/WAGGLE_CONFIG_INVALID WAGGLE_SEQUELIZE_SPANS="all" is not valid; accepted: query or full; using query/);
  });
});

describe('export settings: code options over environment, one sub-object at a time', () => {
  it('a code option for one tuning field keeps the environment\'s other tuning fields', () => {
    const c = resolveConfig(
      { export: { tuning: { maxBatchSpans: 100 } }, sampling: { keepErrors: true } },
      { OTEL_BSP_MAX_QUEUE_SIZE: '5000', WAGGLE_SAMPLE_RATE: '10', WAGGLE_REDACT_QUERY_PARAMS: 'session' },
    );
    expect(c.exportOptions.tuning).toEqual({ maxQueueSpans: 5000, maxBatchSpans: 100 });
    expect(c.exportOptions.redaction).toEqual({ queryParams: ['session'] });
    expect(c.sampling).toMatchObject({ rate: 10, keepErrors: true });
  });
});

describe('deploy markers', () => {
  it('are on by default; WAGGLE_DEPLOY_MARKERS=false turns them off, a code option wins, a bad value is one line', () => {
    expect(resolveConfig({}, {}).deployMarkers).toBe(true);
    expect(resolveConfig({}, { WAGGLE_DEPLOY_MARKERS: 'false' }).deployMarkers).toBe(false);
    expect(resolveConfig({ deployMarkers: true }, { WAGGLE_DEPLOY_MARKERS: 'false' }).deployMarkers).toBe(true);
    const stderr = captureStderr();
    expect(resolveConfig({}, { WAGGLE_DEPLOY_MARKERS: 'maybe' }).deployMarkers).toBe(true);
    expect(stderr()).toMatch(/WAGGLE_CONFIG_INVALID WAGGLE_DEPLOY_MARKERS="maybe" is not valid; accepted: true or false; using true/);
  });
});

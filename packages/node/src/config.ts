// Resolves Waggle's settings from code options, then OTEL_* / HONEYCOMB_* / WAGGLE_* variables, then defaults.
// Every invalid value produces one WAGGLE_CONFIG_INVALID line and a safe fallback, never an exception.
import { basename } from 'node:path';
import { report, reportInvalidSetting } from './diagnostics.js';
import { readExportEnv } from './export/index.js';
import type { ExportPipelineOptions, SamplingOptions } from './export/index.js';
import type { WaggleOptions } from './types.js';

export const LOCAL_ENDPOINT = 'http://127.0.0.1:4318';
const HONEYCOMB_ENDPOINTS = { us: 'https://api.honeycomb.io', eu: 'https://api.eu1.honeycomb.io' } as const;

export type Protocol = 'http/protobuf' | 'http/json';
export type Backend = 'local' | 'honeycomb' | 'otlp';

export interface ResolvedConfig {
  disabled: boolean;
  serviceName: string;
  resourceAttributes: Record<string, string | number | boolean>;
  backend: Backend;
  /** False when no endpoint, key or region was configured and the local default is used. */
  endpointConfigured: boolean;
  tracesUrl: string;
  protocol: Protocol;
  headers: Record<string, string>;
  exportTimeoutMs: number;
  /** Set when a Honeycomb key is configured; used for trace links (never printed). */
  honeycomb?: { apiKey: string; apiBase: string; region: 'us' | 'eu'; classic: boolean };
  enabledInstrumentations?: string[];
  /** Which setting the enabled list came from, for messages about it. */
  enabledInstrumentationsSource: string;
  disabledInstrumentations: string[];
  /** Sampling: code options over WAGGLE_SAMPLE_RATE / OTEL_TRACES_SAMPLER. */
  sampling: SamplingOptions;
  propagators: string[];
  shutdownTimeoutMs: number;
  handleSignals: boolean;
  traceLinks: boolean;
  uiUrl: string;
  propagateTraceFields: string[];
  rollups: boolean;
  frameworkSpans: boolean;
  /** How queue consumers (BullMQ, pg-boss, amqplib) relate to the producer. */
  queueContext: 'link' | 'parent';
  deployMarkers: boolean;
  /** Spans per Sequelize query: `query` (one) or `full` (acquire and driver spans too). */
  sequelizeSpans: 'query' | 'full';
  /** Export pipeline settings other than the destination: code options over environment, per sub-object. */
  exportOptions: Omit<ExportPipelineOptions, 'destination' | 'sampling'>;
}

type Env = Record<string, string | undefined>;

/** A classic Honeycomb key: 32 hex characters, or a 64-character ingest key `hcaic_…` / `hcxic_…`. */
export function isClassicKey(key: string): boolean {
  return /^[0-9a-f]{32}$/i.test(key) || /^hc[a-z]ic_[0-9a-z]{58}$/i.test(key);
}

export function resolveConfig(options: WaggleOptions = {}, env: Env = process.env): ResolvedConfig {
  const read = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const disabled = bool(read, 'OTEL_SDK_DISABLED', false);
  const resourceAttributes = { ...parseKeyValues(read('OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES'), ...options.resourceAttributes };
  const serviceName =
    options.serviceName ?? read('OTEL_SERVICE_NAME') ?? stringOr(resourceAttributes['service.name']) ?? defaultServiceName();

  const protocol = options.protocol ?? protocolFrom(read);
  const exportTimeoutMs = options.exportTimeoutMs ?? positiveInt(read, ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'], 10_000);

  const apiKey = options.apiKey ?? read('HONEYCOMB_API_KEY');
  const region = options.region ?? oneOf(read, 'HONEYCOMB_REGION', ['us', 'eu'] as const, 'us');
  const headers: Record<string, string> = {
    ...parseKeyValues(read('OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseKeyValues(read('OTEL_EXPORTER_OTLP_TRACES_HEADERS'), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
  };

  // Endpoint precedence: explicit traces URL > base endpoint (code, OTEL, HONEYCOMB) > Honeycomb region > local.
  const tracesEndpoint = options.tracesEndpoint ?? validUrl(read, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint =
    options.endpoint ?? validUrl(read, 'OTEL_EXPORTER_OTLP_ENDPOINT') ?? validUrl(read, 'HONEYCOMB_API_ENDPOINT');
  let backend: Backend;
  let tracesUrl: string;
  if (tracesEndpoint !== undefined) {
    tracesUrl = tracesEndpoint;
    backend = apiKey !== undefined ? 'honeycomb' : 'otlp';
  } else if (baseEndpoint !== undefined) {
    tracesUrl = joinTracesPath(baseEndpoint);
    backend = apiKey !== undefined ? 'honeycomb' : 'otlp';
  } else if (apiKey !== undefined) {
    tracesUrl = joinTracesPath(HONEYCOMB_ENDPOINTS[region]);
    backend = 'honeycomb';
  } else {
    tracesUrl = joinTracesPath(LOCAL_ENDPOINT);
    backend = 'local';
  }
  // An explicitly configured local URL is still the local backend (trace links point at its UI).
  const endpointConfigured = backend !== 'local';
  if (backend === 'otlp' && isLocalUrl(tracesUrl)) backend = 'local';

  let honeycomb: ResolvedConfig['honeycomb'];
  if (apiKey !== undefined) {
    const classic = isClassicKey(apiKey);
    headers['x-honeycomb-team'] = apiKey;
    const dataset = options.dataset ?? read('HONEYCOMB_DATASET');
    if (classic) headers['x-honeycomb-dataset'] = dataset ?? serviceName;
    else if (dataset !== undefined) {
      report('WAGGLE_CONFIG_IGNORED', `HONEYCOMB_DATASET is only used with classic keys; this environment key sends to the dataset named by service.name (${JSON.stringify(serviceName)})`);
    }
    const apiBase = baseEndpoint ?? HONEYCOMB_ENDPOINTS[region];
    honeycomb = { apiKey, apiBase, region: apiBase.includes('.eu1.') ? 'eu' : region, classic };
  }

  const enabledSource =
    options.instrumentations !== undefined ? 'instrumentations option' : read('WAGGLE_INSTRUMENTATIONS') !== undefined ? 'WAGGLE_INSTRUMENTATIONS' : 'OTEL_NODE_ENABLED_INSTRUMENTATIONS';
  const enabledList = options.instrumentations ?? list(read('WAGGLE_INSTRUMENTATIONS')) ?? list(read('OTEL_NODE_ENABLED_INSTRUMENTATIONS'));
  const disabledInstrumentations = options.disabledInstrumentations ?? list(read('OTEL_NODE_DISABLED_INSTRUMENTATIONS')) ?? [];

  // Each sub-object merges on its own, so a code option never wipes out the environment's other settings in it.
  const exportEnv = readExportEnv(env);
  const sampling: SamplingOptions = { ...exportEnv.sampling, ...options.sampling, serviceName };
  const exportOptions: ResolvedConfig['exportOptions'] = {
    tuning: { ...exportEnv.tuning, ...options.export?.tuning },
    limits: { ...exportEnv.limits, ...options.export?.limits },
    redaction: { ...exportEnv.redaction, ...options.export?.redaction },
    ...(options.export?.presend ? { presend: options.export.presend } : {}),
    ...((options.export?.compression ?? exportEnv.compression) ? { compression: options.export?.compression ?? exportEnv.compression } : {}),
    ...(exportEnv.selfTelemetry ? { selfTelemetry: exportEnv.selfTelemetry } : {}),
  };

  const traceLinks = options.traceLinks ?? bool(read, 'WAGGLE_TRACE_LINKS', false);
  const uiUrl = (options.uiUrl ?? validUrl(read, 'WAGGLE_UI_URL') ?? new URL(tracesUrl).origin).replace(/\/+$/, '');

  return {
    disabled,
    serviceName,
    resourceAttributes,
    backend,
    endpointConfigured,
    tracesUrl,
    protocol,
    headers,
    exportTimeoutMs,
    honeycomb,
    enabledInstrumentations: enabledList,
    enabledInstrumentationsSource: enabledSource,
    disabledInstrumentations,
    sampling,
    propagators: propagatorsFrom(read),
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? positiveInt(read, ['WAGGLE_SHUTDOWN_TIMEOUT_MS'], 2000),
    handleSignals: options.handleSignals ?? bool(read, 'WAGGLE_HANDLE_SIGNALS', true),
    traceLinks,
    uiUrl,
    propagateTraceFields: options.propagateTraceFields ?? list(read('WAGGLE_PROPAGATE_TRACE_FIELDS')) ?? [],
    rollups: options.rollups ?? bool(read, 'WAGGLE_ROLLUPS', true),
    deployMarkers: options.deployMarkers ?? bool(read, 'WAGGLE_DEPLOY_MARKERS', true),
    frameworkSpans: options.frameworkSpans ?? bool(read, 'WAGGLE_FRAMEWORK_SPANS', false),
    queueContext: queueContextFrom(options.queueContext, read),
    sequelizeSpans: options.sequelizeSpans ?? oneOf(read, 'WAGGLE_SEQUELIZE_SPANS', ['query', 'full'] as const, 'query'),
    exportOptions,
  };
}

/** Where spans go, in words, with no secret in it. */
export function describeDestination(config: ResolvedConfig): string {
  return `${config.tracesUrl} (${config.protocol})`;
}

type Read = (name: string) => string | undefined;

function bool(read: Read, name: string, fallback: boolean): boolean {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
  reportInvalidSetting(name, raw, 'true or false', `using ${fallback}`);
  return fallback;
}

function positiveInt(read: Read, names: string[], fallback: number): number {
  for (const name of names) {
    const value = optionalPositiveInt(read, name);
    if (value !== undefined) return value;
  }
  return fallback;
}

function optionalPositiveInt(read: Read, name: string): number | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return n;
  reportInvalidSetting(name, raw, 'a positive whole number', 'using the default');
  return undefined;
}

function queueContextFrom(option: unknown, read: Read): 'link' | 'parent' {
  const [name, raw] = option !== undefined && option !== null ? ['queueContext option', option] : ['WAGGLE_QUEUE_CONTEXT', read('WAGGLE_QUEUE_CONTEXT')];
  if (raw === undefined) return 'link';
  if (raw === 'link' || raw === 'parent') return raw;
  reportInvalidSetting(name, raw, 'link or parent', 'using link');
  return 'link';
}

function protocolFrom(read: Read): Protocol {
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = read(name);
    if (raw === undefined) continue;
    if (raw === 'http/protobuf' || raw === 'http/json') return raw;
    reportInvalidSetting(name, raw, 'http/protobuf or http/json', 'using http/protobuf');
    return 'http/protobuf';
  }
  return 'http/protobuf';
}

/** One of `accepted` (any case), `fallback` when unset; anything else is reported and gives `fallback`. */
function oneOf<T extends string>(read: Read, name: string, accepted: readonly T[], fallback: T): T {
  const raw = read(name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase() as T;
  if (accepted.includes(v)) return v;
  reportInvalidSetting(name, raw, accepted.join(' or '), `using ${fallback}`);
  return fallback;
}

function validUrl(read: Read, name: string): string | undefined {
  const raw = read(name);
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return raw;
  } catch {
    // fall through to the report
  }
  reportInvalidSetting(name, raw, 'an http:// or https:// URL', 'ignoring it');
  return undefined;
}

function joinTracesPath(base: string): string {
  return `${base.replace(/\/+$/, '')}/v1/traces`;
}

function isLocalUrl(url: string): boolean {
  return url.startsWith(`${LOCAL_ENDPOINT}/`) || url.startsWith('http://localhost:4318/');
}


const KNOWN_PROPAGATORS = ['tracecontext', 'baggage', 'none'];
function propagatorsFrom(read: Read): string[] {
  const names = list(read('OTEL_PROPAGATORS'));
  if (names === undefined) return ['tracecontext', 'baggage'];
  const unknown = names.filter((n) => !KNOWN_PROPAGATORS.includes(n));
  if (unknown.length > 0) {
    reportInvalidSetting('OTEL_PROPAGATORS', names.join(','), KNOWN_PROPAGATORS.join(', '), `ignoring ${unknown.join(', ')}`);
  }
  return names.includes('none') ? [] : names.filter((n) => KNOWN_PROPAGATORS.includes(n));
}

/** `a,b , c` → ['a','b','c']; undefined when unset. */
function list(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** W3C-style `k=v,k2=v2` with percent-decoding (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
function parseKeyValues(raw: string | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq > 0 ? safeDecode(pair.slice(0, eq).trim()) : undefined;
    const value = eq > 0 ? safeDecode(pair.slice(eq + 1).trim()) : undefined;
    if (key === undefined || value === undefined || key === '') {
      reportInvalidSetting(name, raw, 'comma-separated key=value pairs', 'skipping the malformed pair');
      continue;
    }
    out[key] = value;
  }
  return out;
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The entry script's name (`node checkout.js` → `checkout`); without a script (REPL, `-e`) OpenTelemetry's default. */
function defaultServiceName(): string {
  const script = process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?[jt]sx?$/, '') : '';
  return script || `unknown_service:${process.argv0 || 'node'}`;
}

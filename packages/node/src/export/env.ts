// Environment variables of the export pipeline. Invalid values are reported once and ignored (never thrown):
// a typo in an env var must not stop the service from starting.
import { reportInvalidSetting } from '../diagnostics.js';
import type { ExportPipelineOptions, SamplingOptions } from './types.js';

type Env = NodeJS.ProcessEnv;

function count(env: Env, name: string, min: number): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const value = Number(raw);
  if (Number.isInteger(value) && value >= min) return value;
  reportInvalidSetting(name, raw, `a whole number >= ${min}`, 'using the default');
  return undefined;
}

function flag(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  reportInvalidSetting(name, raw, 'true or false', 'using the default');
  return undefined;
}

function list(env: Env, name: string): string[] | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const SAMPLERS = 'always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio';

/** The 1/N rate from OTEL_TRACES_SAMPLER(+_ARG). Waggle's sampler is always parent-based. */
function otelRate(env: Env): number | undefined {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!sampler) return undefined;
  switch (sampler) {
    case 'always_on':
    case 'parentbased_always_on':
      return 1;
    case 'always_off':
    case 'parentbased_always_off':
      return 0;
    case 'traceidratio':
    case 'parentbased_traceidratio': {
      const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
      if (!raw) return 1;
      const ratio = Number(raw);
      if (!(ratio >= 0 && ratio <= 1)) {
        reportInvalidSetting('OTEL_TRACES_SAMPLER_ARG', raw, 'a ratio between 0 and 1', 'keeping every trace');
        return 1;
      }
      return ratio === 0 ? 0 : Math.max(1, Math.round(1 / ratio));
    }
    default:
      reportInvalidSetting('OTEL_TRACES_SAMPLER', sampler, SAMPLERS, 'keeping every trace');
      return undefined;
  }
}

/**
 * Reads the pipeline's environment variables. Only variables that are set appear in the result, so the caller
 * can merge it under code options (code wins).
 */
export function readExportEnv(env: Env): Partial<ExportPipelineOptions> & { sampling?: SamplingOptions } {
  const out: Partial<ExportPipelineOptions> & { sampling?: SamplingOptions } = {};

  const tuning = {
    maxQueueSpans: count(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 1),
    maxBatchSpans: count(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1),
    scheduledDelayMs: count(env, 'OTEL_BSP_SCHEDULE_DELAY', 0),
    flushTimeoutMs: count(env, 'OTEL_BSP_EXPORT_TIMEOUT', 0),
    maxQueueBytes: count(env, 'WAGGLE_EXPORT_MAX_QUEUE_BYTES', 1024),
  };
  if (Object.values(tuning).some((v) => v !== undefined)) out.tuning = stripUndefined(tuning);

  const limits = {
    maxAttributes: count(env, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 1) ?? count(env, 'OTEL_ATTRIBUTE_COUNT_LIMIT', 1),
    maxValueLength: count(env, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 16) ?? count(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 16),
  };
  if (Object.values(limits).some((v) => v !== undefined)) out.limits = stripUndefined(limits);

  const redaction = {
    queryParams: list(env, 'WAGGLE_REDACT_QUERY_PARAMS'),
    headers: list(env, 'WAGGLE_REDACT_HEADERS'),
    recordDbParameters: flag(env, 'WAGGLE_RECORD_DB_PARAMETERS'),
  };
  if (Object.values(redaction).some((v) => v !== undefined)) out.redaction = stripUndefined(redaction);

  const sampling: SamplingOptions = stripUndefined({
    rate: count(env, 'WAGGLE_SAMPLE_RATE', 0) ?? otelRate(env),
    keepErrors: flag(env, 'WAGGLE_SAMPLE_KEEP_ERRORS'),
    keepSlowerThanMs: count(env, 'WAGGLE_SAMPLE_KEEP_SLOWER_THAN_MS', 0),
  });
  if (Object.keys(sampling).length > 0) out.sampling = sampling;

  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION']) {
    const raw = env[name]?.trim().toLowerCase();
    if (!raw) continue;
    if (raw === 'gzip' || raw === 'none') out.compression = raw;
    else reportInvalidSetting(name, raw, 'gzip or none', 'sending uncompressed');
    break;
  }

  const interval = count(env, 'WAGGLE_LOSS_REPORT_INTERVAL_MS', 1000);
  if (interval !== undefined) out.selfTelemetry = { intervalMs: interval };
  return out;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

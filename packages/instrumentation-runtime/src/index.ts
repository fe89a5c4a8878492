export { RuntimeInstrumentation } from './instrumentation.js';
export { RuntimeSpanProcessor } from './span-processor.js';
export { createRuntimeTelemetry } from './telemetry.js';
export type { RuntimeTelemetry } from './telemetry.js';
export type { CrashCaptureConfig, RestartTrackingConfig, RuntimeInstrumentationConfig, VersionChange } from './types.js';
export { CONFIG_ERROR_CODE } from './utils.js';
export * as RuntimeAttributes from './semconv.js';

import { RuntimeInstrumentation } from './instrumentation.js';
import { RuntimeSpanProcessor } from './span-processor.js';
import type { RuntimeInstrumentationConfig } from './types.js';

export interface RuntimeTelemetry {
  /** Register with `registerInstrumentations` (or the distro's list). */
  instrumentation: RuntimeInstrumentation;
  /** Add to the TracerProvider's `spanProcessors`, before the exporting processor. */
  spanProcessor: RuntimeSpanProcessor;
}

/**
 * Creates the instrumentation and its span processor, which share state.
 *
 * @example
 * const runtime = createRuntimeTelemetry({ serviceName: 'api', flush: () => provider.forceFlush() });
 * const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new BatchSpanProcessor({ exporter })] });
 * registerInstrumentations({ tracerProvider: provider, instrumentations: [runtime.instrumentation] });
 */
export function createRuntimeTelemetry(config: RuntimeInstrumentationConfig = {}): RuntimeTelemetry {
  const instrumentation = new RuntimeInstrumentation(config);
  return { instrumentation, spanProcessor: new RuntimeSpanProcessor(instrumentation) };
}

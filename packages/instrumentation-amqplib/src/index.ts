export { AmqplibInstrumentation } from './instrumentation.js';
export type { AmqplibInstrumentationConfig } from './types.js';

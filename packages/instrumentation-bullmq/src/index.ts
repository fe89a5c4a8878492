export { BullMQInstrumentation } from './instrumentation.js';
export type { BullMQInstrumentationConfig } from './types.js';

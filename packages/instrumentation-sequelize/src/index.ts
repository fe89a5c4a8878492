export { SequelizeInstrumentation } from './instrumentation.js';
export type { SequelizeErrorType, SequelizeInstrumentationConfig } from './types.js';
export { classifyError, sanitizeSql } from './utils.js';

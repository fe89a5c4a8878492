export { PgBossInstrumentation } from './instrumentation.js';
export type { PgBossInstrumentationConfig } from './types.js';

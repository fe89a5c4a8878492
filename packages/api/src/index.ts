export { withSpan, recordError } from './with-span.js';
export { addFields } from './fields.js';
export { addTraceFields } from './trace-fields.js';
export { traced } from './traced.js';
export { timer } from './timer.js';
export { runJob, type RunJobOptions } from './run-job.js';
export type { FieldObject, FieldValue, Timer, WithSpanOptions } from './types.js';

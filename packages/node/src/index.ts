export { start, shutdown, nodeSdkConfiguration } from './start.js';
export type { WaggleHandle } from './start.js';
export type { WaggleOptions } from './types.js';
export { isClassicKey } from './config.js';
export { INSTRUMENTATION_NAMES } from './instrumentations.js';
export { HttpChannelInstrumentation } from './http-instrumentation.js';
export type { HttpChannelConfig } from './http-instrumentation.js';
export { FrameworkErrorInstrumentation } from './server-errors.js';

export { OtlpReceiver, startReceiver } from './receiver.js';
export type { RequestRecord } from './receiver.js';
export { childrenOf, expectSpan, findSpan, rootsOf, toReceivedSpans, traceOf } from './spans.js';
export type { SpanExpectation } from './spans.js';
export { runNode } from './run-node.js';
export type { ExitResult, NodeProcess, RunNodeOptions } from './run-node.js';
export { serviceAvailable, uniqueName } from './services.js';
export type { ServiceName } from './services.js';
export { waitFor } from './wait.js';
export type { WaitForOptions } from './wait.js';
export { startQueueApps } from './queue-apps.js';
export type { QueueApps, QueueAppsOptions } from './queue-apps.js';
export type {
  FaultHandler,
  FaultResponse,
  ReceivedRequest,
  ReceivedSpan,
  ReceiverOptions,
  SpanKindName,
  SpanMatch,
  WaitOptions,
} from './types.js';

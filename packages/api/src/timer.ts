// timer(): measure a stretch of work as a field, without the cost and noise of a span.
import { trace } from '@opentelemetry/api';
import type { Timer } from './types.js';

/**
 * Starts a timer bound to the active span; `stop()` sets `<name>_ms` on that span and returns the milliseconds.
 * Example: `const t = timer('render'); render(); t.stop();` → `render_ms`. Stopping twice records once.
 */
export function timer(name: string): Timer {
  const span = trace.getActiveSpan();
  const started = performance.now();
  let stopped: number | undefined;
  return {
    stop(): number {
      if (stopped !== undefined) return stopped;
      stopped = performance.now() - started;
      if (span !== undefined && span.isRecording()) span.setAttribute(`${name}_ms`, Math.round(stopped * 1000) / 1000);
      return stopped;
    },
  };
}

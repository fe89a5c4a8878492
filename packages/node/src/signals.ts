// Flush on SIGTERM / SIGINT / beforeExit without changing how the process ends, and say what could not be sent.
import { report } from './diagnostics.js';

export interface Flushable {
  forceFlush(): Promise<void>;
  /** Count of spans handed to export; beforeExit flushes only when it moved, so it cannot loop forever. */
  endedCount(): number;
  /** The process is ending: report (synchronously) the spans that were not delivered. */
  reportUndelivered(detail: string): void;
}

export interface SignalHandling {
  remove(): void;
}

export const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** Signal listeners present now, so listeners that Waggle's own instrumentations add can be told from the app's. */
export function signalListeners(): Set<Function> {
  return new Set(SIGNALS.flatMap((signal) => process.listeners(signal)));
}

/** Resolves when `promise` settles or after `ms`, whichever is first; never rejects. */
export async function withDeadline(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * On SIGTERM/SIGINT: flush (bounded by `timeoutMs`), then, when no other listener for that signal exists,
 * remove ours and re-raise the signal so the process ends exactly as Node's default would (same signal, same
 * exit status). When the app has its own listener, the app decides how to exit and Waggle only flushes.
 */
export function installSignalHandlers(target: Flushable, timeoutMs: number, internal: Set<Function> = new Set()): SignalHandling {
  const handlers = new Map<string, () => void>();
  let flushing = false;
  // Listeners that are neither ours nor added by Waggle's instrumentations (the runtime package records the signal
  // and re-raises it when it is alone, so it must not count as the app's handler).
  const appListeners = (signal: NodeJS.Signals, handler: Function): number =>
    process.listeners(signal).filter((l) => l !== handler && !internal.has(l)).length;
  for (const signal of SIGNALS) {
    const handler = (): void => {
      const appHandlesIt = appListeners(signal, handler) > 0;
      if (flushing && !appHandlesIt) {
        // A second signal while flushing: stop waiting, behave like Node.
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
        return;
      }
      flushing = true;
      void withDeadline(target.forceFlush(), timeoutMs).then((done) => {
        flushing = false;
        if (appListeners(signal, handler) > 0) {
          // The app decides whether the process ends; if it exits, 'exit' reports what was not sent.
          if (!done) report('WAGGLE_SHUTDOWN_TIMEOUT', `spans were still being sent after ${timeoutMs} ms on ${signal}`);
          return;
        }
        // A re-raised fatal signal emits no 'exit': report the loss now.
        target.reportUndelivered(`not delivered within ${timeoutMs} ms of ${signal}`);
        process.removeListener(signal, handler);
        process.kill(process.pid, signal);
      });
    };
    handlers.set(signal, handler);
    process.on(signal, handler);
  }

  let flushedAt = -1;
  const beforeExit = (): void => {
    const count = target.endedCount();
    if (count === flushedAt) return;
    flushedAt = count;
    void withDeadline(target.forceFlush(), timeoutMs);
  };
  process.on('beforeExit', beforeExit);
  // Also after process.exit() and after beforeExit's flush failed: the loop is empty, the retry timers never fire.
  const exit = (): void => target.reportUndelivered('not delivered before the process exited');
  process.on('exit', exit);

  return {
    remove(): void {
      for (const [signal, handler] of handlers) process.removeListener(signal, handler);
      process.removeListener('beforeExit', beforeExit);
      process.removeListener('exit', exit);
    },
  };
}

// Polling for state the test cannot subscribe to (an in-memory exporter, a row, a file).
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitForOptions {
  /** Default 30000. */
  timeoutMs?: number;
  /** Pause between probes; default 50. */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a truthy value and resolves with that value; rejects naming `what` after
 * `timeoutMs`. An exception from `probe` rejects at once.
 * @example const [span] = await waitFor('process span', () => spansNamed('process q').length > 0 && spansNamed('process q'));
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | null | false, options: WaitForOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(options.intervalMs ?? 50);
  }
}

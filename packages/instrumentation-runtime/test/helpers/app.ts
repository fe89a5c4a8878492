import { runNode } from '@waggle/testing';
import type { NodeProcess } from '@waggle/testing';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** Starts a fixture from test/fixtures with extra env (it exports to OTEL_EXPORTER_OTLP_ENDPOINT given there). */
export function startApp(
  name: string,
  env: Record<string, string>,
  nodeOptions: string[] = [],
  timeoutMs = 60_000,
): NodeProcess {
  return runNode({ script: fixture(name), env, nodeOptions, timeoutMs });
}

/** Waits for the app to exit and returns its exit together with its output. */
export async function exited(
  app: NodeProcess,
  timeoutMs = 60_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const { code, signal } = await app.waitForExit({ timeoutMs });
  return { code, signal, stdout: app.stdout, stderr: app.stderr };
}

import { runNode } from '@waggle/testing';
import type { NodeProcess } from '@waggle/testing';
import * as http from 'node:http';
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

/** GETs `urlPath` from a fixture listening on 127.0.0.1:`port`; resolves once the body is read, rejects on a connection error. */
export function get(port: string, urlPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      })
      .on('error', reject);
  });
}

// Starts a fixture app with @waggle/testing's runNode and waits for its "listening <port>" line.
import { runNode, type ExitResult, type NodeProcess, type OtlpReceiver } from '@waggle/testing';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface App {
  process: NodeProcess;
  port: number;
  url: string;
  stderr: () => string;
  /** Resolves with exit code and signal once the process has ended. */
  exited: Promise<ExitResult>;
  /** Sends a signal to the app. */
  kill(signal: NodeJS.Signals): void;
  /** SIGKILL if still running (test cleanup). */
  stop(): void;
}

/**
 * `args` is what follows `node` on the command line: node options, then the fixture file name.
 * With a receiver the app exports to it (http/protobuf unless `env` says otherwise).
 */
export async function startApp(args: string[], env: Record<string, string | undefined>, receiver?: OtlpReceiver): Promise<App> {
  const script = args.at(-1)!;
  const proc = runNode({ script: `${FIXTURES}${script}`, nodeOptions: args.slice(0, -1), cwd: FIXTURES, env, receiver, timeoutMs: 120_000 });
  const exited = proc.waitForExit({ timeoutMs: 120_000 });
  exited.catch(() => {});
  const match = await proc.waitForOutput(/listening (\d+)/, { timeoutMs: 30_000 });
  const port = Number(match[1]);
  return {
    process: proc,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => proc.stderr,
    exited,
    kill: (signal) => proc.kill(signal),
    stop: () => proc.kill('SIGKILL'),
  };
}

/** The environment a child gets when a test wants no exporter settings inherited from the parent. */
export const NO_EXPORT_ENV = {
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_PROTOCOL: undefined,
  HONEYCOMB_API_KEY: undefined,
  HONEYCOMB_API_ENDPOINT: undefined,
};

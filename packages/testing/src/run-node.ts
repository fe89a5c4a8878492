// Runs a Node script as a child process (optionally exporting to a receiver) and cleans it up
// when the test process exits, so a failed test never leaves servers running.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { OtlpReceiver } from './receiver.js';

export interface RunNodeOptions {
  /** Path of the script to run. */
  script: string;
  args?: string[];
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Node flags placed before the script, e.g. ['--import', '@waggle/node/register']. */
  nodeOptions?: string[];
  /** Sets OTEL_EXPORTER_OTLP_ENDPOINT to receiver.url and OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (env wins). */
  receiver?: OtlpReceiver;
  /** Kill the child (SIGKILL) if it is still running after this long. Default 60000. */
  timeoutMs?: number;
}

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  child: ChildProcess;
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
  /** Resolves with the first match in stdout+stderr; rejects on timeout (default 15 s) or exit, with the output. */
  waitForOutput(pattern: RegExp, options?: { timeoutMs?: number }): Promise<RegExpMatchArray>;
  /** Resolves when the child exits; rejects on timeout (default 15 s) with the output. */
  waitForExit(options?: { timeoutMs?: number }): Promise<ExitResult>;
  /** Sends a signal (default SIGTERM); no-op when already exited. */
  kill(signal?: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function tail(s: string): string {
  return s.length > 4000 ? `…${s.slice(-4000)}` : s;
}

/**
 * Spawns `node [nodeOptions] script [args]` with process.execPath.
 * @example const app = runNode({ script: 'app.mjs', nodeOptions: ['--import', '@waggle/node/register'], receiver });
 */
export function runNode(options: RunNodeOptions): NodeProcess {
  installExitHook();
  const env: Record<string, string | undefined> = { ...process.env };
  if (options.receiver) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = options.receiver.url;
    env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  }
  Object.assign(env, options.env);
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];

  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), options.script, ...(options.args ?? [])], {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  let exit: ExitResult | undefined;
  let spawnError: Error | undefined;
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    changed();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    changed();
  });
  const lifetime = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  lifetime.unref();
  child.on('error', (err) => {
    spawnError = err;
    changed();
  });
  child.on('close', (code, signal) => {
    exit = { code, signal };
    live.delete(child);
    clearTimeout(lifetime);
    changed();
  });

  const output = () => `--- stdout ---\n${tail(stdout)}\n--- stderr ---\n${tail(stderr)}`;

  /** Polls `check` on every output/exit change until it returns a value or `timeoutMs` passes. */
  function waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const done = () => {
        listeners.delete(onChange);
        clearTimeout(timer);
      };
      const onChange = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          done();
          reject(err as Error);
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`runNode ${options.script}: timed out after ${timeoutMs} ms waiting for ${what}\n${output()}`));
      }, timeoutMs);
      listeners.add(onChange);
      onChange();
    });
  }

  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitForOutput(pattern, { timeoutMs = 15_000 } = {}) {
      return waitFor(
        () => {
          const m = stdout.match(pattern) ?? stderr.match(pattern);
          if (m) return m;
          if (spawnError) throw new Error(`runNode ${options.script}: failed to start: ${spawnError.message}`);
          if (exit) throw new Error(`runNode ${options.script}: exited (${exit.code ?? exit.signal}) before printing ${pattern}\n${output()}`);
          return undefined;
        },
        timeoutMs,
        `output ${pattern}`,
      );
    },
    waitForExit({ timeoutMs = 15_000 } = {}) {
      return waitFor(
        () => {
          if (spawnError) throw new Error(`runNode ${options.script}: failed to start: ${spawnError.message}`);
          return exit;
        },
        timeoutMs,
        'exit',
      );
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (exit === undefined) child.kill(signal);
    },
  };
}

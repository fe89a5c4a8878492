import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/*
 * Child-process helpers for the worker packages' tests (the pg-boss and amqplib suites import them
 * too). Temporary: @waggle/testing's runNode() replaces them once it lands on main.
 */

/** The fixtures import packages by name, which resolves to their builds: fail clearly without one. */
export function requireBuild(packageDir: URL): void {
  const dist = fileURLToPath(new URL('dist/index.js', packageDir));
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" in the package first`);
}

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line matching re. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

export function startChild(script: URL, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [fileURLToPath(script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    async waitForLine(re, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = out.match(re);
        if (match) return match;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`${script}: no line matching ${re}; stdout: ${out}; stderr: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

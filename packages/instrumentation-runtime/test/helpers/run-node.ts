import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

export interface NodeRun {
  child: ChildProcess;
  /** Resolves when the child exits. */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  /** Resolves with the first stdout line matching `re` (fixtures print `listening <port>`). */
  line(re: RegExp): Promise<RegExpMatchArray>;
}

/** Spawns `node [nodeArgs] script` with extra env, capturing output. */
export function runNode(script: string, env: Record<string, string>, nodeArgs: string[] = []): NodeRun {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
    const pending = waiters.splice(0);
    for (const w of pending) {
      const m = stdout.match(w.re);
      if (m) w.resolve(m);
      else waiters.push(w);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    done,
    line(re) {
      const m = stdout.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        void done.then(() => reject(new Error(`child exited before printing ${re}; stderr:\n${stderr}`)));
      });
    },
  };
}

// Runs a fixture app as a child process and waits for its "listening <port>" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface App {
  child: ChildProcess;
  port: number;
  url: string;
  stderr: () => string;
  /** Resolves with exit code and signal once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): void;
}

export async function startApp(args: string[], env: Record<string, string | undefined>, timeoutMs = 20_000): Promise<App> {
  const child = spawn(process.execPath, args, {
    cwd: FIXTURES,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not listen in ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /listening (\d+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`app exited (${code ?? signal}) before listening; stderr: ${stderr}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

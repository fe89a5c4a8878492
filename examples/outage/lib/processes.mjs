// Child processes of the demo: started with one Waggle import, output kept for diagnosis, stopped cleanly.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const children = new Set();

export class Service {
  /**
   * @param {string} name
   * @param {{ script: string, args?: string[], env?: Record<string,string>, traced?: boolean, nodeArgs?: string[], ready: RegExp, onExit?: (code: number|null, signal: string|null) => void }} options
   */
  constructor(name, options) {
    this.name = name;
    this.options = options;
    this.output = '';
    this.child = undefined;
    this.stopping = false;
  }

  async start(extraEnv = {}) {
    const { script, args: scriptArgs = [], env = {}, traced = true, nodeArgs = [], ready } = this.options;
    const args = [...(traced ? ['--import', '@waggle/node/register'] : []), ...nodeArgs, script, ...scriptArgs];
    this.stopping = false;
    const child = spawn(process.execPath, args, {
      cwd: new URL('..', import.meta.url).pathname,
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    children.add(child);
    this.output = '';
    const append = (chunk) => {
      this.output = (this.output + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!this.stopping) this.options.onExit?.(code, signal);
    });
    await waitFor(() => ready.test(this.output), 60_000, () => `${this.name} did not start:\n${this.output.slice(-2000)}`, child);
    return this;
  }

  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit').catch(() => {});
    clearTimeout(timer);
  }
}

async function waitFor(check, timeoutMs, message, child) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (child && child.exitCode !== null) throw new Error(message());
    if (Date.now() > deadline) throw new Error(message());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Last resort on exit: no child outlives the demo. */
export function killAll() {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);

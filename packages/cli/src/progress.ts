// Anything slower than ~300 ms shows a spinner on stderr when stderr is a terminal. Elsewhere (a pipe, a file, a
// script capturing output) it prints nothing: a progress line there is read after the results, not during the wait.
import { terminalText } from './render/terminal-text.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export async function withProgress<T>(text: string, work: Promise<T>, stream: NodeJS.WriteStream = process.stderr): Promise<T> {
  if (!stream.isTTY) return work;
  const label = terminalText(text);
  let frame = 0;
  let interval: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    interval = setInterval(() => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`), 80);
  }, 300);
  try {
    return await work;
  } finally {
    clearTimeout(start);
    if (interval) {
      clearInterval(interval);
      stream.write('\r\x1b[K');
    }
  }
}

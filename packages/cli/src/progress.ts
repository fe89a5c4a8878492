// Anything slower than ~300 ms shows progress on stderr: a spinner on a TTY, one line otherwise.
import { terminalText } from './render/terminal-text.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export async function withProgress<T>(text: string, work: Promise<T>, stream: NodeJS.WriteStream = process.stderr): Promise<T> {
  const label = terminalText(text);
  let frame = 0;
  let interval: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    if (stream.isTTY) {
      interval = setInterval(() => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`), 80);
    } else {
      stream.write(`… ${label}\n`);
    }
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

#!/usr/bin/env node
// The `waggle` command: a thin dispatcher; each command lives in its own module under commands/.
import { serve } from './commands/serve.js';

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = { serve };

const USAGE = `usage: waggle <command> [options]

commands:
  serve [--port N] [--host ADDR] [--data DIR]   run the local backend (OTLP, Events API, queries, UI)
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`waggle: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    return 2;
  }
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`waggle: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);

#!/usr/bin/env node
// The `waggle` command: a thin dispatcher. Each command lives in src/commands/.
import { createContext, type Command } from './command.js';
import { bubbleupCommand } from './commands/bubbleup.js';
import { gapsCommand } from './commands/gaps.js';
import { incidentCommand } from './commands/incident.js';
import { markerCommand } from './commands/marker.js';
import { queryCommand } from './commands/query.js';
import { serveCommand } from './commands/serve.js';
import { traceCommand } from './commands/trace.js';
import { CommandError, UsageError } from './errors.js';
import { IncidentLog, incidentDir } from '@waggle/backend';
import { terminalLines, terminalText } from './render/terminal-text.js';

const COMMANDS: Command[] = [serveCommand, queryCommand, traceCommand, bubbleupCommand, gapsCommand, markerCommand, incidentCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'waggle — query traces during an incident, locally or on Honeycomb',
    '',
    'Usage: waggle <command> [options]   (waggle <command> --help for details)',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.description}`),
    '',
    'Exit codes: 0 ok, 1 failure, 2 usage error.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`waggle: unknown command ${terminalText(JSON.stringify(name))}\n\n${usage()}\n`);
    return 2;
  }
  const ctx = createContext(name, rest);
  const record = command.recordInIncident && !rest.includes('--help') && !rest.includes('-h');
  try {
    const outcome = await command.run(ctx);
    if (record) await recordCommand(ctx.commandLine, outcome?.summary ?? 'done', false);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`waggle ${name}: ${terminalText(error.message)}\n(see: waggle ${name} --help)\n`);
      return 2;
    }
    // A CommandError can quote the server's answer; a stack is the only output with line breaks of its own.
    const message = error instanceof CommandError ? terminalText(error.message) : terminalLines((error as Error)?.stack ?? String(error));
    process.stderr.write(`waggle ${name}: ${message}\n`);
    if (record) await recordCommand(ctx.commandLine, (error as Error)?.message ?? String(error), true);
    return 1;
  }
}

async function recordCommand(commandLine: string, summary: string, failed: boolean): Promise<void> {
  try {
    await new IncidentLog(incidentDir()).append({ kind: 'command', text: commandLine, summary, ...(failed ? { failed } : {}) });
  } catch (error) {
    process.stderr.write(`waggle: could not write to the incident log: ${(error as Error).message}\n`);
  }
}

// `serve` keeps running; everything else exits with its code.
main(process.argv.slice(2)).then(
  (code) => {
    if (process.argv[2] !== 'serve' || code !== 0) process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`waggle: ${(error as Error)?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);

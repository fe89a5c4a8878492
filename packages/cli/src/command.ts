import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';
import { createStyle, colorEnabled, type Style } from './style.js';

export interface CommandContext {
  argv: string[];
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  style: Style;
  /** The command line as typed, for the incident log. */
  commandLine: string;
}

export interface CommandOutcome {
  /** One line describing the answer; appended to the open incident's timeline. */
  summary?: string;
}

export interface Command {
  name: string;
  /** One line for `waggle --help`. */
  description: string;
  /** The full `waggle <name> --help` text. */
  help: string;
  /** Whether running it is recorded in an open incident's timeline. */
  recordInIncident: boolean;
  run(ctx: CommandContext): Promise<CommandOutcome | void>;
}

export function createContext(name: string, argv: string[], env: NodeJS.ProcessEnv = process.env): CommandContext {
  return {
    argv,
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    style: createStyle(colorEnabled(process.stdout, env)),
    commandLine: ['waggle', name, ...argv].map(shellQuote).join(' '),
  };
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** parseArgs with errors turned into usage errors that say which flag was wrong. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
  }
}

/** Flags shared by every command that talks to a backend. */
export const TARGET_FLAGS = {
  target: { type: 'string', default: 'local' },
  url: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Help for TARGET_FLAGS; `urlFlag` names the base-URL flag where a command's --url means something else. */
export function targetHelp(urlFlag = '--url'): string {
  return `  --target local|honeycomb   where to ask (default local: WAGGLE_URL or http://127.0.0.1:4318;
                             honeycomb: Query Data API with HONEYCOMB_API_KEY, HONEYCOMB_API_ENDPOINT/REGION)
  ${`${urlFlag} URL`.padEnd(25)}  override the target's base URL
  --json                     print the raw result as JSON`;
}

export const TARGET_HELP = targetHelp();

export function targetName(value: string | undefined): 'local' | 'honeycomb' {
  if (value === 'local' || value === 'honeycomb' || value === undefined) return value ?? 'local';
  throw new UsageError(`--target ${JSON.stringify(value)}: expected local or honeycomb`);
}

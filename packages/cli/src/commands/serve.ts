import path from 'node:path';
import { isLoopback, startBackend } from '@waggle/backend';
import { uiDirectory } from '@waggle/ui';
import { parseFlags, type Command } from '../command.js';
import { CommandError, UsageError } from '../errors.js';
import { parseDuration } from '../query-syntax.js';

const HELP = `waggle serve — run the embedded Honeycomb-compatible backend and web UI

Usage: waggle serve [--port 4318] [--host 127.0.0.1] [--data DIR] [--trigger-period 2s]

  --port N             port for OTLP ingest, the Events API, the Query API and the UI (default 4318;
                       0 picks a free port)
  --host H             address to bind (default 127.0.0.1; use 0.0.0.0 to accept other hosts)
  --data DIR           data directory (default WAGGLE_DATA_DIR or ./.waggle)
  --trigger-period D   evaluate every trigger this often instead of at its frequency, its time range scaled
                       alike (for demos and tests; default: each trigger's frequency)

Triggers (/1/triggers) are evaluated here: a firing or resolving trigger prints one line, notifies its
webhooks and is added to the open incident's timeline (WAGGLE_INCIDENT_DIR).

Keys: when WAGGLE_API_KEYS (comma-separated) is set, requests must carry one in X-Honeycomb-Team.`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
  'trigger-period': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const serveCommand: Command = {
  name: 'serve',
  description: 'run the local backend: OTLP + Events API ingest, Query API, web UI',
  help: HELP,
  recordInIncident: false,
  async run(ctx) {
    const { values: v } = parseFlags(ctx.argv, OPTIONS);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    const port = v.port === undefined ? 4318 : portNumber(v.port);
    const host = v.host ?? '127.0.0.1';
    const dataDir = path.resolve(v.data ?? ctx.env.WAGGLE_DATA_DIR ?? '.waggle');
    const keys = ctx.env.WAGGLE_API_KEYS?.split(',').map((k) => k.trim()).filter(Boolean);
    const triggers = {
      ...(v['trigger-period'] ? { periodSeconds: parseDuration(v['trigger-period'], '--trigger-period') } : {}),
      log: (line: string) => ctx.stdout.write(`${ctx.style.dim(new Date().toISOString().slice(11, 19))} ${line}\n`),
    };
    const backend = await startBackend({ port, host, uiDir: uiDirectory(), dataDir, triggers, ...(keys?.length ? { keys } : {}) }).catch((error: unknown) => {
      const reason = startFailure(error as NodeJS.ErrnoException, port, host, dataDir);
      throw reason === undefined ? error : new CommandError(reason);
    });
    const { style } = ctx;
    if (!keys?.length && !isLoopback(host)) {
      ctx.stderr.write(`waggle serve: WAGGLE_SERVE_NO_KEYS: listening on ${host} without WAGGLE_API_KEYS: anyone who can reach it can read and write its data\n`);
    }
    ctx.stdout.write(
      [
        `${style.bold('waggle serve')} listening on ${backend.url}`,
        `  OTLP/HTTP   ${backend.url}/v1/traces`,
        `  Events API  ${backend.url}/1/batch/<dataset>`,
        `  data        ${backend.dataDir}`,
        `  UI          ${backend.url}/`,
        '',
      ].join('\n'),
    );
    let closing = false;
    const stop = (signal: NodeJS.Signals) => {
      if (closing) return;
      closing = true;
      ctx.stderr.write(`\nwaggle serve: ${signal}, closing…\n`);
      backend.close().then(
        () => process.exit(0),
        (error: unknown) => {
          ctx.stderr.write(`waggle serve: error while closing: ${(error as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
};

function portNumber(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535) throw new UsageError(`--port ${JSON.stringify(text)}: expected a port number from 0 to 65535 (0 picks a free port)`);
  return n;
}

/**
 * One line for why the backend could not start, naming the flag that changes it (a stack trace helps nobody with a
 * taken port); undefined for an error that is not about the port, host or data directory, so its stack is kept.
 */
function startFailure(error: NodeJS.ErrnoException, port: number, host: string, dataDir: string): string | undefined {
  const message = String(error?.message ?? error).split('\n')[0]!;
  switch (error?.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is already in use${port === 4318 ? ' (often by an OpenTelemetry Collector)' : ''}; stop that process or choose another port with --port N (--port 0 picks a free one)`;
    case 'EACCES':
    case 'EPERM':
      if (error.syscall === 'listen') return `port ${port} needs privileges this user lacks; choose a port above 1023 with --port N`;
      break;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${host}: not an address of this machine; choose one with --host (127.0.0.1, 0.0.0.0 or an interface address)`;
  }
  // Opening the data directory: a file in the way, no permission, a read-only or full disk (fs errors carry the
  // path), another server holding the database's lock or a file that is not a database (DuckDB's IO errors).
  if (error?.path === undefined && !message.startsWith('IO Error')) return undefined;
  const lockedBy = /Conflicting lock is held in .*\(PID (\d+)\)/.exec(message);
  if (lockedBy) return `the data directory ${dataDir} is in use by another process (PID ${lockedBy[1]}, probably another waggle serve); stop it or choose another directory with --data DIR`;
  return `the data directory ${dataDir} cannot be used (${message.replace(/^IO Error: /, '')}); choose another with --data DIR`;
}

import { isLoopback, startBackend } from '@waggle/backend';
import { uiDirectory } from '@waggle/ui';
import { parseFlags, type Command } from '../command.js';
import { positiveInt } from './query.js';

const HELP = `waggle serve — run the embedded Honeycomb-compatible backend and web UI

Usage: waggle serve [--port 4318] [--host 127.0.0.1] [--data DIR]

  --port N     port for OTLP ingest, the Events API, the Query API and the UI (default 4318)
  --host H     address to bind (default 127.0.0.1; use 0.0.0.0 to accept other hosts)
  --data DIR   data directory (default WAGGLE_DATA_DIR or ./.waggle)

Keys: when WAGGLE_API_KEYS (comma-separated) is set, requests must carry one in X-Honeycomb-Team.`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  data: { type: 'string' },
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
    const port = v.port === undefined ? 4318 : v.port === '0' ? 0 : positiveInt(v.port, '--port');
    const keys = ctx.env.WAGGLE_API_KEYS?.split(',').map((k) => k.trim()).filter(Boolean);
    const backend = await startBackend({
      port,
      host: v.host ?? '127.0.0.1',
      uiDir: uiDirectory(),
      ...(v.data ? { dataDir: v.data } : {}),
      ...(keys?.length ? { keys } : {}),
    });
    const { style } = ctx;
    if (!keys?.length && !isLoopback(v.host ?? '127.0.0.1')) {
      ctx.stderr.write(`waggle serve: WAGGLE_SERVE_NO_KEYS: listening on ${v.host} without WAGGLE_API_KEYS: anyone who can reach it can read and write its data\n`);
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

import { parseArgs } from 'node:util';
import { startBackend } from '@waggle/backend';

const HELP = `usage: waggle serve [--port N] [--host ADDR] [--data DIR]

  --port N      port for ingest, API and UI (default 4318; 0 picks a free port)
  --host ADDR   address to bind (default 127.0.0.1)
  --data DIR    data directory (default $WAGGLE_DATA_DIR or ./.waggle)
`;

/** `waggle serve`: runs the backend until SIGINT/SIGTERM, then closes it cleanly. */
export async function serve(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        data: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`waggle serve: ${(error as Error).message}\n${HELP}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      process.stderr.write(`waggle serve: --port must be an integer from 0 to 65535, got ${JSON.stringify(values.port)}\n`);
      return 2;
    }
  }
  const backend = await startBackend({
    ...(port !== undefined ? { port } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values.data !== undefined ? { dataDir: values.data } : {}),
  });
  process.stdout.write(
    `waggle backend listening on ${backend.url}\n` +
      `  OTLP/HTTP traces: ${backend.url}/v1/traces\n` +
      `  data directory:   ${backend.dataDir}\n` +
      `  UI:               ${backend.url}/\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.stdout.write(`waggle backend: ${signal}, shutting down\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await backend.close();
  process.stdout.write('waggle backend: stopped\n');
  return 0;
}

import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { serviceAvailable } from '@waggle/testing';
import { PgBossInstrumentation } from '../src/index.js';

export const require = createRequire(import.meta.url);
export const DATABASE = 'waggle_workers_test';
export const ADMIN_URL = process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const DATABASE_URL = process.env.PG_WORKERS_URL ?? `postgres://postgres@127.0.0.1:5432/${DATABASE}`;
/** The pg-boss schema this suite owns inside its own database. */
export const SCHEMA = 'waggle_workers';

export const exporter = new InMemorySpanExporter();
export const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);

// pg's default reports queries outside any span too: the suppression of polling must hold.
export const pgInstrumentation = new PgInstrumentation();
pgInstrumentation.setTracerProvider(provider);
export const instrumentation = new PgBossInstrumentation();
instrumentation.setTracerProvider(provider);
// pg is loaded by pg-boss through its ESM entry, which shares the CommonJS module; requiring it
// here lets the pg instrumentation's require hook patch that shared module.
export const pg = require('pg') as typeof import('pg');

export type PgBossModule = typeof import('pg-boss');

/** Imports pg-boss (ESM only) and patches it through the instrumentation's module definition. */
export async function loadPgBoss(): Promise<PgBossModule> {
  const mod = await import('pg-boss');
  const [definition] = instrumentation.getModuleDefinitions();
  definition!.patch!(mod, (require('pg-boss/package.json') as { version: string }).version);
  return mod;
}

/** Creates the suite's database when missing; false when PostgreSQL is unreachable. */
export async function preparePostgres(): Promise<boolean> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  try {
    await admin.connect();
  } catch {
    return false;
  }
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (!rowCount) await admin.query(`CREATE DATABASE ${DATABASE}`);
    return true;
  } finally {
    await admin.end();
  }
}

/** In CI a missing PostgreSQL is a failure; elsewhere the suite is skipped with a visible message. */
export async function requirePostgres(): Promise<boolean> {
  if (!(await serviceAvailable('postgres'))) return false;
  if (await preparePostgres()) return true;
  throw new Error(`PostgreSQL accepts connections but ${ADMIN_URL} could not create or reach ${DATABASE}`);
}

export function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

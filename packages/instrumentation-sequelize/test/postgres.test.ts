import { createRequire } from 'node:module';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { describe } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';
import { serviceAvailable, setupOtel } from './helpers.js';
import { dialectSuite } from './suite.js';

// Instrumentations are enabled before sequelize and pg are first required.
const instrumentation = new SequelizeInstrumentation();
const pgInstrumentation = new PgInstrumentation();
const otel = setupOtel([instrumentation, pgInstrumentation]);
const require = createRequire(import.meta.url);
const DATABASE = 'waggle_sequelize_test';

const available = await serviceAvailable('PostgreSQL', 5432);
if (available) {
  const { Client } = require('pg');
  const admin = new Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'postgres' });
  await admin.connect();
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
  if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
}
const { Sequelize, DataTypes } = require('sequelize');

describe.skipIf(!available)('sequelize on PostgreSQL (pg driver, pg instrumentation on)', () => {
  dialectSuite({
    dialect: 'postgres',
    system: 'postgresql',
    port: 5432,
    username: 'postgres',
    database: DATABASE,
    Sequelize,
    DataTypes,
    otel,
    instrumentation,
    driverScope: '@opentelemetry/instrumentation-pg',
    sleepSql: (seconds) => `SELECT pg_sleep(${seconds})`,
    setStatementTimeout: (connection, ms) => connection.query(`SET statement_timeout = ${ms}`),
    isStatementTimeout: (error) => error?.code === '57014',
    killConnectionsRunning: async (seq, marker) => {
      const rows = await seq.query(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE query LIKE :pattern AND pid <> pg_backend_pid()',
        { replacements: { pattern: `%${marker}%` }, type: 'SELECT' },
      );
      return rows.length;
    },
  });
});

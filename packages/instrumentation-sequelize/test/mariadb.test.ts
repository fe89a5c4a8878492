import { createRequire } from 'node:module';
import { describe } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';
import { serviceAvailable, setupOtel } from './helpers.js';
import { dialectSuite } from './suite.js';

// The mariadb dialect uses the `mariadb` connector, which has no OpenTelemetry instrumentation.
const instrumentation = new SequelizeInstrumentation();
const otel = setupOtel([instrumentation]);
const require = createRequire(import.meta.url);
const DATABASE = 'waggle_sequelize_test';

const available = await serviceAvailable('MariaDB', 3306);
if (available) {
  const mariadb = require('mariadb');
  const admin = await mariadb.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await admin.end();
}
const { Sequelize, DataTypes } = require('sequelize');

describe.skipIf(!available)('sequelize on MariaDB (mariadb connector)', () => {
  dialectSuite({
    dialect: 'mariadb',
    system: 'mariadb',
    port: 3306,
    username: 'root',
    database: DATABASE,
    Sequelize,
    DataTypes,
    otel,
    instrumentation,
    sleepSql: (seconds) => `SELECT SLEEP(${seconds})`,
    setStatementTimeout: (connection, ms) => connection.query(`SET SESSION max_statement_time = ${ms / 1000}`),
    isStatementTimeout: (error) => error?.errno === 1969,
    killConnectionsRunning: async (seq, marker) => {
      const rows = await seq.query(
        'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE :pattern AND ID <> CONNECTION_ID()',
        { replacements: { pattern: `%${marker}%` }, type: 'SELECT' },
      );
      for (const { id } of rows) await seq.query(`KILL CONNECTION ${Number(id)}`, { type: 'RAW' });
      return rows.length;
    },
  });
});

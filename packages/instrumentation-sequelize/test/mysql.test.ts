import { createRequire } from 'node:module';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { describe } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';
import { serviceAvailable, setupOtel } from './helpers.js';
import { dialectSuite } from './suite.js';

// The mysql dialect (mysql2 driver, mysql2 instrumentation on) against the machine's MariaDB server.
const instrumentation = new SequelizeInstrumentation();
const mysql2Instrumentation = new MySQL2Instrumentation();
const otel = setupOtel([instrumentation, mysql2Instrumentation]);
const require = createRequire(import.meta.url);
const DATABASE = 'waggle_sequelize_test';

const available = await serviceAvailable('MariaDB', 3306);
if (available) {
  const mysql = require('mysql2/promise');
  const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root' });
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await admin.end();
}
const { Sequelize, DataTypes } = require('sequelize');

describe.skipIf(!available)('sequelize on MariaDB server through the mysql dialect (mysql2, mysql2 instrumentation on)', () => {
  dialectSuite({
    dialect: 'mysql',
    system: 'mysql',
    port: 3306,
    username: 'root',
    database: DATABASE,
    Sequelize,
    DataTypes,
    otel,
    instrumentation,
    driverScope: '@opentelemetry/instrumentation-mysql2',
    sleepSql: (seconds) => `SELECT SLEEP(${seconds})`,
    setStatementTimeout: (connection, ms) =>
      connection.promise().query(`SET SESSION max_statement_time = ${ms / 1000}`),
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

import { createRequire } from 'node:module';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { serviceAvailable } from '@waggle/testing';
import { describe } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';
import { setupOtel } from './helpers.js';
import { createMariadbDatabase, dialectSuite, MARIADB_SERVER } from './suite.js';

// The mysql dialect (mysql2 driver, mysql2 instrumentation on) against the machine's MariaDB server.
const instrumentation = new SequelizeInstrumentation();
const mysql2Instrumentation = new MySQL2Instrumentation();
const otel = setupOtel([instrumentation, mysql2Instrumentation]);
const require = createRequire(import.meta.url);

const available = await serviceAvailable('mariadb');
if (available) {
  const mysql = require('mysql2/promise');
  await createMariadbDatabase(await mysql.createConnection({ host: '127.0.0.1', port: MARIADB_SERVER.port, user: MARIADB_SERVER.username }));
}
const { Sequelize, DataTypes } = require('sequelize');

describe.skipIf(!available)('sequelize on MariaDB server through the mysql dialect (mysql2, mysql2 instrumentation on)', () => {
  dialectSuite({
    ...MARIADB_SERVER,
    dialect: 'mysql',
    system: 'mysql',
    Sequelize,
    DataTypes,
    otel,
    instrumentation,
    driverScope: '@opentelemetry/instrumentation-mysql2',
    setStatementTimeout: (connection, ms) =>
      connection.promise().query(`SET SESSION max_statement_time = ${ms / 1000}`),
  });
});

import { createRequire } from 'node:module';
import { serviceAvailable } from '@waggle/testing';
import { describe } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';
import { setupOtel } from './helpers.js';
import { createMariadbDatabase, dialectSuite, MARIADB_SERVER } from './suite.js';

// The mariadb dialect uses the `mariadb` connector, which has no OpenTelemetry instrumentation.
const instrumentation = new SequelizeInstrumentation();
const otel = setupOtel([instrumentation]);
const require = createRequire(import.meta.url);

const available = await serviceAvailable('mariadb');
if (available) {
  const mariadb = require('mariadb');
  await createMariadbDatabase(await mariadb.createConnection({ host: '127.0.0.1', port: MARIADB_SERVER.port, user: MARIADB_SERVER.username }));
}
const { Sequelize, DataTypes } = require('sequelize');

describe.skipIf(!available)('sequelize on MariaDB (mariadb connector)', () => {
  dialectSuite({
    ...MARIADB_SERVER,
    dialect: 'mariadb',
    system: 'mariadb',
    Sequelize,
    DataTypes,
    otel,
    instrumentation,
    setStatementTimeout: (connection, ms) => connection.query(`SET SESSION max_statement_time = ${ms / 1000}`),
  });
});

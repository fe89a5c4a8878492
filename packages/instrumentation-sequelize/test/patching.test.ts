import { createRequire } from 'node:module';
import { isWrapped } from '@opentelemetry/instrumentation';
import { describe, expect, it } from 'vitest';
import { SequelizeInstrumentation } from '../src/index.js';

// Enabled before sequelize is first required, as in an application.
const instrumentation = new SequelizeInstrumentation();
const require = createRequire(import.meta.url);
const { Sequelize, Model, Transaction } = require('sequelize');
const ConnectionManager = require('sequelize/lib/dialects/abstract/connection-manager');
const PostgresQuery = require('sequelize/lib/dialects/postgres/query');
const MariaDbQuery = require('sequelize/lib/dialects/mariadb/query');

const patched = () => [
  Sequelize.prototype.query,
  Sequelize.prototype.transaction,
  Transaction.prototype.prepareEnvironment,
  Transaction.prototype.commit,
  Transaction.prototype.rollback,
  Model.findAll,
  Model.prototype.save,
  ConnectionManager.prototype.getConnection,
  PostgresQuery.prototype.run,
  MariaDbQuery.prototype.run,
];

describe('patching', () => {
  it('wraps the query, pool, transaction, model and dialect query entry points once enabled', () => {
    expect(patched().map(isWrapped)).toEqual(patched().map(() => true));
  });

  it('disable() restores every original and enable() wraps them again, without double wrapping', () => {
    instrumentation.disable();
    expect(patched().map(isWrapped)).toEqual(patched().map(() => false));
    instrumentation.enable();
    expect(patched().map(isWrapped)).toEqual(patched().map(() => true));
    const original = (Sequelize.prototype.query as { __original: unknown }).__original;
    expect(isWrapped(original)).toBe(false);
  });

  it('rejects a config with the wrong option types, naming the option and what is accepted', () => {
    expect(() => new SequelizeInstrumentation({ recordParameters: 'yes' as never, enabled: false })).toThrow(
      /WAGGLE_CONFIG_INVALID: SequelizeInstrumentation recordParameters must be a boolean, got string/,
    );
    expect(() => new SequelizeInstrumentation({ spans: 'some' as never, enabled: false })).toThrow(
      /WAGGLE_CONFIG_INVALID: SequelizeInstrumentation spans must be 'query' or 'full', got "some"/,
    );
    expect(() => new SequelizeInstrumentation({ slowAcquireMs: -1, enabled: false })).toThrow(
      /WAGGLE_CONFIG_INVALID: SequelizeInstrumentation slowAcquireMs must be a number >= 0, got -1/,
    );
  });
});

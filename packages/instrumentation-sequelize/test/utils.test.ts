import { describe, expect, it } from 'vitest';
import { classifyError, collectionName, operationName, responseStatusCode, sanitizeSql } from '../src/utils.js';

describe('sanitizeSql', () => {
  it('replaces string and number literals with ? and keeps PostgreSQL quoted identifiers', () => {
    expect(sanitizeSql(`SELECT "t1"."id" FROM "users" AS "t1" WHERE "age" = 42 AND "name" = 'O''Brien'`, 'postgres')).toBe(
      `SELECT "t1"."id" FROM "users" AS "t1" WHERE "age" = ? AND "name" = ?`,
    );
  });

  it('treats double quotes as strings and honours backslash escapes on MySQL and MariaDB', () => {
    expect(sanitizeSql(`SELECT \`a1\` FROM \`t\` WHERE b = "x\\"y" AND c = 'it\\'s' AND d IN (1, 2.5, -3e10)`, 'mariadb')).toBe(
      'SELECT `a1` FROM `t` WHERE b = ? AND c = ? AND d IN (?, ?, -?)',
    );
  });

  it('keeps placeholders and identifiers containing digits, replaces E-strings, hex and dollar-quoted bodies', () => {
    expect(sanitizeSql(`UPDATE t2 SET a = $1, b = :name, c = ?, d = E'\\n', e = 0xFF, f = $$x'y$$ WHERE g = $tag$z$tag$`, 'postgres')).toBe(
      'UPDATE t2 SET a = $1, b = :name, c = ?, d = ?, e = ?, f = ? WHERE g = ?',
    );
  });

  it('returns the same string when there is nothing to replace', () => {
    const sql = 'SELECT * FROM "users"';
    expect(sanitizeSql(sql, 'postgres')).toBe(sql);
  });
});

describe('operationName and collectionName', () => {
  it('takes the first keyword, upper-cased, past comments and parentheses', () => {
    expect(operationName('/* hint */ (select 1)')).toBe('SELECT');
    expect(operationName('  -- note\n insert into t values (?)')).toBe('INSERT');
    expect(operationName('?')).toBeUndefined();
  });

  it('names the single table of raw SQL and nothing when several tables are involved', () => {
    expect(collectionName('SELECT a FROM "public"."users" WHERE x = ?', undefined)).toBe('public.users');
    expect(collectionName('INSERT INTO `logs` (a) VALUES (?)', undefined)).toBe('logs');
    expect(collectionName('SELECT * FROM a JOIN b ON a.id = b.id', undefined)).toBeUndefined();
    expect(collectionName('SELECT * FROM a, b', undefined)).toBeUndefined();
    expect(collectionName('SELECT 1', undefined)).toBeUndefined();
  });

  it('prefers the model table name, with its schema', () => {
    const model = { name: 'User', getTableName: () => ({ tableName: 'users', schema: 'app' }) };
    expect(collectionName('SELECT * FROM whatever', model)).toBe('app.users');
  });
});

const wrap = (name: string, parent: object) => Object.assign(new Error('any text'), { name, parent });

describe('classifyError', () => {
  it('classifies by SQLSTATE and errno of the wrapped driver error, not by message', () => {
    expect(classifyError(wrap('SequelizeDatabaseError', { code: '57014' }))).toBe('query_timeout');
    expect(classifyError(wrap('SequelizeDatabaseError', { code: '40P01' }))).toBe('deadlock');
    expect(classifyError(wrap('SequelizeDatabaseError', { errno: 1213, code: 'ER_LOCK_DEADLOCK' }))).toBe('deadlock');
    expect(classifyError(wrap('SequelizeDatabaseError', { errno: 1969 }))).toBe('query_timeout');
    expect(classifyError(wrap('SequelizeDatabaseError', { errno: 3024 }))).toBe('query_timeout');
    expect(classifyError(wrap('SequelizeDatabaseError', { code: '08006' }))).toBe('connection_lost');
    expect(classifyError(wrap('SequelizeDatabaseError', { code: 'ECONNRESET' }))).toBe('connection_lost');
    expect(classifyError(Object.assign(new Error('deadlock detected'), { code: 'XX000' }))).toBe('other');
  });

  it('classifies Sequelize error classes', () => {
    expect(classifyError(wrap('SequelizeConnectionAcquireTimeoutError', {}))).toBe('pool_acquire_timeout');
    expect(classifyError(wrap('SequelizeConnectionRefusedError', {}))).toBe('connection_refused');
    expect(classifyError(wrap('SequelizeUniqueConstraintError', { code: '23505' }))).toBe('unique_violation');
    expect(classifyError(Object.assign(new Error('x'), { name: 'SequelizeValidationError' }))).toBe('validation');
    expect(classifyError('a string')).toBe('other');
    expect(classifyError(undefined)).toBe('other');
  });

  it('survives cyclic error chains', () => {
    const a: Record<string, unknown> = { name: 'A' };
    a.parent = a;
    expect(classifyError(a)).toBe('other');
  });
});

describe('responseStatusCode', () => {
  it('is the SQLSTATE of a PostgreSQL error or the error number of a MySQL/MariaDB one, never a Node error code', () => {
    expect(responseStatusCode(wrap('SequelizeDatabaseError', { code: '57014', severity: 'ERROR' }))).toBe('57014');
    expect(responseStatusCode(wrap('SequelizeDatabaseError', { errno: 1969, code: 'ER_STATEMENT_TIMEOUT', sqlState: '70100' }))).toBe('1969');
    expect(responseStatusCode(wrap('SequelizeConnectionError', { code: 'EPIPE', errno: -32 }))).toBeUndefined();
    expect(responseStatusCode(wrap('SequelizeConnectionAcquireTimeoutError', {}))).toBeUndefined();
    expect(responseStatusCode('a string')).toBeUndefined();
  });
});

import {
  DB_SYSTEM_NAME_VALUE_MARIADB,
  DB_SYSTEM_NAME_VALUE_MYSQL,
  DB_SYSTEM_NAME_VALUE_POSTGRESQL,
} from '@opentelemetry/semantic-conventions';
import type { ModelClassLike, PoolLike, PoolOrReplication } from './internal-types.js';
import type { SequelizeErrorType } from './types.js';

/** `db.system.name` for a Sequelize dialect name; other dialects keep their own name. */
export function dbSystemName(dialect: string): string {
  switch (dialect) {
    case 'postgres':
      return DB_SYSTEM_NAME_VALUE_POSTGRESQL;
    case 'mariadb':
      return DB_SYSTEM_NAME_VALUE_MARIADB;
    case 'mysql':
      return DB_SYSTEM_NAME_VALUE_MYSQL;
    default:
      return dialect;
  }
}

function isIdentChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 || // _
    code === 36 || // $
    code > 127
  );
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * Replaces literal values (strings, numbers, dollar-quoted bodies) in SQL with `?`, keeping identifiers,
 * placeholders (`$1`, `?`, `:name`) and comments. Double quotes delimit identifiers in PostgreSQL and strings
 * in MySQL/MariaDB, hence the dialect.
 * @example sanitizeSql(`SELECT * FROM "users" WHERE "id" = 4 AND "name" = 'ann'`, 'postgres')
 *   // SELECT * FROM "users" WHERE "id" = ? AND "name" = ?
 */
export function sanitizeSql(sql: string, dialect: string): string {
  const doubleQuoteIsString = dialect === 'mysql' || dialect === 'mariadb';
  const backslashEscapes = doubleQuoteIsString;
  let out = '';
  let copyFrom = 0;
  let i = 0;
  const n = sql.length;
  const replace = (start: number, end: number): void => {
    out += sql.slice(copyFrom, start) + '?';
    copyFrom = end;
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    // -- line comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    // /* block comment */
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
      continue;
    }
    if (c === 39 || (c === 34 && doubleQuoteIsString)) {
      // string literal; a prefix like E'..', N'..', X'..', B'..' belongs to the literal
      let start = i;
      if (i > 0 && /[EeNnXxBb]/.test(sql[i - 1]!) && (i < 2 || !isIdentChar(sql.charCodeAt(i - 2)))) start = i - 1;
      const escapes = backslashEscapes || (start === i - 1 && /[Ee]/.test(sql[i - 1]!));
      let j = i + 1;
      while (j < n) {
        const d = sql.charCodeAt(j);
        if (escapes && d === 92) {
          j += 2;
          continue;
        }
        if (d === c) {
          if (sql.charCodeAt(j + 1) === c) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      replace(start, Math.min(j + 1, n));
      i = j + 1;
      continue;
    }
    if (c === 34 || c === 96) {
      // quoted identifier: copy as is
      const end = sql.indexOf(sql[i]!, i + 1);
      i = end === -1 ? n : end + 1;
      continue;
    }
    if (c === 36 && !doubleQuoteIsString && (i === 0 || !isIdentChar(sql.charCodeAt(i - 1)))) {
      // PostgreSQL $tag$ ... $tag$ (dollar-quoted string) vs $1 placeholder
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        const stop = end === -1 ? n : end + m[0].length;
        replace(i, stop);
        i = stop;
        continue;
      }
      i++;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
      continue;
    }
    if (isIdentChar(c) && !isDigit(c)) {
      while (i < n && isIdentChar(sql.charCodeAt(i))) i++;
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      let j = i;
      if (c === 48 && (sql[i + 1] === 'x' || sql[i + 1] === 'X')) {
        j += 2;
        while (j < n && /[0-9a-fA-F]/.test(sql[j]!)) j++;
      } else {
        while (j < n && (isDigit(sql.charCodeAt(j)) || sql[j] === '.')) j++;
        if (j < n && (sql[j] === 'e' || sql[j] === 'E') && /[-+0-9]/.test(sql[j + 1] ?? '')) {
          j += 2;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
        }
      }
      replace(i, j);
      i = j;
      continue;
    }
    i++;
  }
  return copyFrom === 0 ? sql : out + sql.slice(copyFrom);
}

/** The SQL keyword that names the operation (`SELECT`, `INSERT`, …), upper-cased; undefined if none. */
export function operationName(sql: string): string | undefined {
  const m = /^[\s(;]*(?:(?:--[^\n]*\n|\/\*[\s\S]*?\*\/)[\s(;]*)*([A-Za-z]+)/.exec(sql);
  return m ? m[1]!.toUpperCase() : undefined;
}

const SINGLE_TABLE =
  /^\s*(?:SELECT\b[\s\S]*?\bFROM|INSERT\s+(?:IGNORE\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+((?:[`"][^`"]+[`"]|[\w$]+)(?:\.(?:[`"][^`"]+[`"]|[\w$]+))?)/i;

/**
 * `db.collection.name`: the model's table, or for raw SQL the single table it reads or writes.
 * Undefined when the SQL joins or lists several tables, so the attribute is never misleading.
 */
export function collectionName(sql: string, model: ModelClassLike | undefined): string | undefined {
  if (model && typeof model.getTableName === 'function') {
    try {
      const t = model.getTableName();
      if (typeof t === 'string') return t;
      if (t && typeof t.tableName === 'string') return t.schema ? `${t.schema}.${t.tableName}` : t.tableName;
    } catch {
      // a model without a table name gives no collection
    }
  }
  const m = SINGLE_TABLE.exec(sql);
  if (!m) return undefined;
  const rest = sql.slice(m.index + m[0].length);
  if (/^\s*,/.test(rest) || /\bJOIN\b/i.test(rest)) return undefined;
  return m[1]!.replace(/[`"]/g, '');
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  severity?: unknown;
  errno?: unknown;
  sqlState?: unknown;
  parent?: unknown;
  original?: unknown;
  previous?: unknown;
  cause?: unknown;
}

const PG_CODES: Record<string, SequelizeErrorType> = {
  '57014': 'query_timeout', // query_canceled (statement_timeout)
  '55P03': 'query_timeout', // lock_not_available (lock_timeout)
  '40P01': 'deadlock', // deadlock_detected
  '23505': 'unique_violation',
  '23502': 'validation', // not_null_violation
  '23514': 'validation', // check_violation
  '22001': 'validation', // string_data_right_truncation
  '22P02': 'validation', // invalid_text_representation
  '22003': 'validation', // numeric_value_out_of_range
  '57P01': 'connection_lost', // admin_shutdown
  '57P02': 'connection_lost', // crash_shutdown
  '57P03': 'connection_refused', // cannot_connect_now
};

const MYSQL_ERRNOS: Record<number, SequelizeErrorType> = {
  1213: 'deadlock', // ER_LOCK_DEADLOCK
  1062: 'unique_violation', // ER_DUP_ENTRY
  1205: 'query_timeout', // ER_LOCK_WAIT_TIMEOUT
  3024: 'query_timeout', // ER_QUERY_TIMEOUT (MySQL max_execution_time)
  1969: 'query_timeout', // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  1048: 'validation', // ER_BAD_NULL_ERROR
  1406: 'validation', // ER_DATA_TOO_LONG
  1366: 'validation', // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1292: 'validation', // ER_TRUNCATED_WRONG_VALUE
  3819: 'validation', // ER_CHECK_CONSTRAINT_VIOLATED
  4025: 'validation', // ER_CONSTRAINT_FAILED (MariaDB CHECK)
  2006: 'connection_lost', // CR_SERVER_GONE_ERROR
  2013: 'connection_lost', // CR_SERVER_LOST
  1927: 'connection_lost', // ER_CONNECTION_KILLED
};

const NODE_CODES: Record<string, SequelizeErrorType> = {
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'connection_refused',
  EHOSTUNREACH: 'connection_refused',
  ECONNRESET: 'connection_lost',
  EPIPE: 'connection_lost',
  PROTOCOL_CONNECTION_LOST: 'connection_lost', // mysql2
  ER_SOCKET_UNEXPECTED_CLOSE: 'connection_lost', // mariadb
  ER_CONNECTION_ALREADY_CLOSED: 'connection_lost', // mariadb
  ER_CMD_CONNECTION_CLOSED: 'connection_lost', // mariadb
  PROTOCOL_SEQUENCE_TIMEOUT: 'query_timeout', // mysql2 `timeout` query option
  ER_LOCK_DEADLOCK: 'deadlock',
  ER_DUP_ENTRY: 'unique_violation',
  ER_QUERY_TIMEOUT: 'query_timeout',
  ER_STATEMENT_TIMEOUT: 'query_timeout',
  ER_LOCK_WAIT_TIMEOUT: 'query_timeout',
};

const SEQUELIZE_CLASSES: Record<string, SequelizeErrorType> = {
  SequelizeConnectionAcquireTimeoutError: 'pool_acquire_timeout',
  SequelizeConnectionRefusedError: 'connection_refused',
  SequelizeHostNotFoundError: 'connection_refused',
  SequelizeHostNotReachableError: 'connection_refused',
  SequelizeUniqueConstraintError: 'unique_violation',
};

/** The error and the errors it wraps (`parent`, `original`, `cause`, `previous`): Sequelize error → driver error → …. */
function* errorChain(error: unknown): Generator<ErrorLike> {
  let e = error as ErrorLike | undefined;
  const seen = new Set<unknown>();
  for (let depth = 0; e && typeof e === 'object' && depth < 5 && !seen.has(e); depth++) {
    seen.add(e);
    yield e;
    e = (e.parent ?? e.original ?? e.cause ?? e.previous) as ErrorLike | undefined;
  }
}

/**
 * Classifies an error for `error.type` from its class name and from the SQLSTATE / errno / code of the
 * driver error it wraps (`parent`, `original`, `cause`, `previous`). Message text is never inspected.
 */
export function classifyError(error: unknown): SequelizeErrorType {
  let validation = false;
  // Walk the wrap chain: Sequelize error → driver error (→ retry-as-promised TimeoutError.previous …)
  for (const e of errorChain(error)) {
    const name = typeof e.name === 'string' ? e.name : '';
    const byClass = SEQUELIZE_CLASSES[name];
    if (byClass) return byClass;
    if (name === 'SequelizeValidationError') validation = true;
    const code = typeof e.code === 'string' ? e.code : undefined;
    const sqlState = typeof e.sqlState === 'string' ? e.sqlState : code;
    if (sqlState && sqlState.length === 5 && PG_CODES[sqlState]) return PG_CODES[sqlState]!;
    if (typeof e.errno === 'number' && MYSQL_ERRNOS[e.errno]) return MYSQL_ERRNOS[e.errno]!;
    if (code && NODE_CODES[code]) return NODE_CODES[code]!;
    if (sqlState && sqlState.startsWith('08')) return 'connection_lost'; // SQLSTATE class 08: connection exception
  }
  return validation ? 'validation' : 'other';
}

/**
 * The database's own code for a failed query, as the driver reports it (`db.response.status_code`): the SQLSTATE
 * for PostgreSQL (`57014`), the error number for MySQL and MariaDB (`1969`); undefined when the server sent none.
 */
export function responseStatusCode(error: unknown): string | undefined {
  for (const e of errorChain(error)) {
    if (typeof e.errno === 'number' && e.errno > 0) return String(e.errno);
    // pg's DatabaseError carries the SQLSTATE as `code` beside the server's `severity` (a bare `code` may be Node's, EPIPE).
    if (typeof e.code === 'string' && typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e.code;
  }
  return undefined;
}

export interface PoolStats {
  size: number;
  idle: number;
  used: number;
  waiting: number;
  max: number;
}

function isPool(p: unknown): p is PoolLike {
  return !!p && typeof (p as PoolLike).size === 'number';
}

/** Reads the pool's counters (summed over read and write pools with replication); undefined if unknown. */
export function poolStats(pool: PoolOrReplication | undefined): PoolStats | undefined {
  if (isPool(pool)) {
    return { size: pool.size, idle: pool.available, used: pool.using, waiting: pool.waiting, max: pool.maxSize };
  }
  if (pool && isPool((pool as { read?: unknown }).read) && isPool((pool as { write?: unknown }).write)) {
    const r = poolStats((pool as { read: PoolLike }).read)!;
    const w = poolStats((pool as { write: PoolLike }).write)!;
    return {
      size: r.size + w.size,
      idle: r.idle + w.idle,
      used: r.used + w.used,
      waiting: r.waiting + w.waiting,
      max: r.max + w.max,
    };
  }
  return undefined;
}

export interface RowCounts {
  returned?: number;
  affected?: number;
}

/**
 * Row counts from the value `Query#run` resolves with, which depends on the query type:
 * SELECT → rows (or one row when `plain`), UPDATE/DELETE → count or `[rows, count]`, RAW → `[rows, meta]`.
 */
export function rowCounts(type: string | undefined, plain: boolean | undefined, result: unknown): RowCounts {
  switch (type) {
    case 'SELECT':
      if (plain) return { returned: result == null ? 0 : 1 };
      return Array.isArray(result) ? { returned: result.length } : {};
    case 'BULKDELETE':
    case 'DELETE':
    case 'BULKUPDATE':
      if (typeof result === 'number') return { affected: result };
      if (Array.isArray(result) && typeof result[1] === 'number') return { affected: result[1] };
      return {};
    case 'UPDATE':
    case 'INSERT':
    case 'UPSERT':
      if (Array.isArray(result) && typeof result[1] === 'number') return { affected: result[1] };
      return {};
    default: {
      if (!Array.isArray(result)) return {};
      const meta = result[1] as { rowCount?: unknown; affectedRows?: unknown } | undefined;
      const counts: RowCounts = {};
      if (Array.isArray(result[0])) counts.returned = result[0].length;
      if (meta && typeof meta.affectedRows === 'number') counts.affected = meta.affectedRows;
      else if (meta && typeof meta.rowCount === 'number' && !Array.isArray(result[0])) counts.affected = meta.rowCount;
      return counts;
    }
  }
}

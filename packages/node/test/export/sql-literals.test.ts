// The SQL literal scanner read against the databases' own lexers: every statement here first runs on the real
// server (PostgreSQL, MariaDB, SQLite), which shows where its values really are (a row holding "s3cr3t" proves
// it was a literal; a row without it proves that text was a comment). Then the scanner must remove exactly those.
import { DatabaseSync } from 'node:sqlite';
import { runNode, serviceAvailable, startReceiver } from '@waggle/testing';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlDialect, stripSqlLiterals } from '../../src/export/sql-literals.js';
import { FIXTURES } from '../helpers/child.js';

const pgUp = await serviceAvailable('postgres');
const mariadbUp = await serviceAvailable('mariadb');

interface Case {
  sql: string;
  stripped: string;
  /** Whether the row holds "s3cr3t" (a value) or not (the secret was in a comment). Default true. */
  value?: boolean;
}

/** Row values as text; binary values (hex and bit literals) decoded as UTF-8. */
function rowText(row: Record<string, unknown>): string {
  return Object.values(row)
    .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : String(v)))
    .join(' | ');
}

function checkCase(c: Case, row: Record<string, unknown>, system: string): void {
  if (c.value === false) expect(rowText(row)).not.toContain('s3cr3t');
  else expect(rowText(row)).toContain('s3cr3t');
  const out = stripSqlLiterals(c.sql, sqlDialect(system));
  expect(out).toBe(c.stripped);
  expect(out).not.toContain('s3cr3t');
}

const POSTGRESQL_CASES: Case[] = [
  { sql: "SELECT 'it''s s3cr3t' AS a", stripped: 'SELECT ? AS a' },
  // Backslash is an ordinary character in standard strings: 'C:\' ends there, so the next literal is a value.
  { sql: "SELECT 'C:\\' AS a, 's3cr3t' AS b", stripped: 'SELECT ? AS a, ? AS b' },
  { sql: "SELECT E'it\\'s s3cr3t' AS a, e'\\\\' AS b", stripped: 'SELECT ? AS a, ? AS b' },
  { sql: "SELECT $$it's s3cr3t$$ AS a, $tag$ $$ s3cr3t $$ $tag$ AS b", stripped: 'SELECT ? AS a, ? AS b' },
  { sql: "SELECT U&'s3cr3t\\0021' AS a, N's3cr3t' AS b, X'1F' AS c, B'101' AS d", stripped: 'SELECT ? AS a, ? AS b, ? AS c, ? AS d' },
  { sql: `SELECT "it's"."a" FROM (SELECT 's3cr3t' AS "a") "it's"`, stripped: `SELECT "it's"."a" FROM (SELECT ? AS "a") "it's"` },
  { sql: "SELECT 1 AS a /* s3cr3t /* nested */ still s3cr3t */, 2 AS b -- s3cr3t", stripped: 'SELECT ? AS a, ? AS b', value: false },
  // In PostgreSQL # is an operator, not a comment.
  { sql: `SELECT '{"k":"s3cr3t"}'::jsonb #> '{k}' AS a, -1.5e3 AS b, .5 AS c, 10 - 4 AS d`, stripped: 'SELECT ?::jsonb #> ? AS a, ? AS b, ? AS c, ? - ? AS d' },
];

const MYSQL_CASES: Case[] = [
  { sql: "SELECT 'O\\'s3cr3t' AS a, 'it''s' AS b", stripped: 'SELECT ? AS a, ? AS b' },
  // Here \' is an escaped quote, so the string runs on to the next quote (read as PostgreSQL, s3cr3t would leak).
  { sql: "SELECT 'a\\' AS s3cr3t, ' AS b", stripped: 'SELECT ? AS b' },
  { sql: "SELECT 'a\\\\' AS a, 's3cr3t' AS b", stripped: 'SELECT ? AS a, ? AS b' },
  { sql: 'SELECT "s3cr3t \\" and "" quotes" AS a', stripped: 'SELECT ? AS a' },
  { sql: "SELECT N's3cr3t' AS a, _utf8mb4's3cr3t' AS b, _binary 'x' AS c", stripped: 'SELECT ? AS a, ? AS b, _binary ? AS c' },
  { sql: "SELECT X'733363723374' AS a, 0x733363723374 AS b, b'0111001100110011' AS c, 0b01110011 AS d", stripped: 'SELECT ? AS a, ? AS b, ? AS c, ? AS d' },
  { sql: "SELECT `it's`.a FROM (SELECT 's3cr3t' AS a) `it's`", stripped: "SELECT `it's`.a FROM (SELECT ? AS a) `it's`" },
  { sql: 'SELECT 1 AS a # s3cr3t\n, 2 AS b -- s3cr3t\n, /* s3cr3t */ 3 AS c', stripped: 'SELECT ? AS a\n, ? AS b\n, ? AS c', value: false },
  // MySQL runs the SQL in /*! … */, so its literals are values like any other.
  { sql: "SELECT 1 AS a /*!50001 , 's3cr3t' AS b */", stripped: 'SELECT ? AS a /*!50001 , ? AS b */' },
];

const SQLITE_CASES: Case[] = [
  { sql: "SELECT 'it''s s3cr3t' AS a, 'C:\\' AS b", stripped: 'SELECT ? AS a, ? AS b' },
  { sql: `SELECT "a", [b], \`c\` FROM (SELECT 's3cr3t' AS "a", 'x' AS [b], 'y' AS \`c\`)`, stripped: 'SELECT "a", [b], `c` FROM (SELECT ? AS "a", ? AS [b], ? AS `c`)' },
  { sql: "SELECT X'733363723374' AS a, 0x1F AS b, 1e3 AS c", stripped: 'SELECT ? AS a, ? AS b, ? AS c' },
  { sql: 'SELECT 1 AS a /* s3cr3t */ -- s3cr3t', stripped: 'SELECT ? AS a', value: false },
];

describe.skipIf(!pgUp)('SQL literals as PostgreSQL reads them', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
    await client.connect();
  });
  afterAll(() => client?.end());

  it.each(POSTGRESQL_CASES)('$sql', async (c) => {
    const { rows } = await client.query(c.sql);
    checkCase(c, rows[0], 'postgresql');
  });
});

describe.skipIf(!mariadbUp)('SQL literals as MariaDB reads them (the MySQL dialect)', () => {
  let connection: mysql.Connection;
  beforeAll(async () => {
    connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
  });
  afterAll(() => connection?.end());

  it.each(MYSQL_CASES)('$sql', async (c) => {
    const [rows] = await connection.query(c.sql);
    checkCase(c, (rows as Array<Record<string, unknown>>)[0]!, 'mysql');
  });
});

describe('SQL literals as SQLite reads them (node:sqlite)', () => {
  const db = new DatabaseSync(':memory:');

  it.each(SQLITE_CASES)('$sql', (c) => {
    checkCase(c, db.prepare(c.sql).get() as Record<string, unknown>, 'sqlite');
  });

  it('SQLite reads an unknown "name" as a column, not a string, so keeping "…" leaks nothing', () => {
    expect(() => db.prepare('SELECT "s3cr3t"').get()).toThrow(/no such column/);
  });
});

/** Deterministic strings full of the characters that end strings and start comments in some dialect. */
function randomValues(seed: number, count: number): string[] {
  let state = seed;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const alphabet = ["'", '"', '\\', '$', '$$', '$q$', '*/', '/*', '--', '#', '\n', '`', '?', ';', ' ', 'x', '7', 'é', '\u202e'];
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''));
}

/** What a pg.escapeLiteral result becomes: it writes " E'…'" (with a leading space) for a value with a backslash. */
function placeholder(literal: string): string {
  return literal.startsWith(' ') ? ' ?' : '?';
}

describe('statements built by the drivers\' own escaping (pg.escapeLiteral, mysql2.format)', () => {
  const seed = 20;
  const values = randomValues(seed, 500);

  it(`PostgreSQL: every escaped value is one literal, every escaped name is kept (seed ${seed})`, () => {
    for (let i = 0; i < values.length; i += 2) {
      const name = pg.escapeIdentifier(values[i + 1]!);
      const [a, c] = [pg.escapeLiteral(values[i]!), pg.escapeLiteral(values[i + 1]!)];
      const sql = `SELECT ${a} AS ${name} FROM t WHERE c = ${c}`;
      expect(stripSqlLiterals(sql, sqlDialect('postgresql'))).toBe(`SELECT ${placeholder(a)} AS ${name} FROM t WHERE c = ${placeholder(c)}`);
    }
  });

  it(`MySQL: every escaped value is one literal, every escaped name is kept (seed ${seed})`, () => {
    for (let i = 0; i < values.length; i += 2) {
      const name = mysql.escapeId(values[i + 1]!);
      const sql = mysql.format('SELECT ? AS ?? FROM t WHERE c = ?', [values[i], values[i + 1], values[i + 1]]);
      expect(stripSqlLiterals(sql, sqlDialect('mysql'))).toBe(`SELECT ? AS ${name} FROM t WHERE c = ?`);
    }
  });

  it.skipIf(!pgUp || !mariadbUp)('the servers read those statements back as the same values', async () => {
    const client = new pg.Client({ host: '127.0.0.1', user: 'postgres', database: 'test' });
    await client.connect();
    const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root', database: 'test' });
    try {
      for (const value of values.slice(0, 40)) {
        const { rows } = await client.query(`SELECT ${pg.escapeLiteral(value)} AS v`);
        expect(rows[0].v).toBe(value);
        const [mysqlRows] = await connection.query(mysql.format('SELECT ? AS v', [value]));
        expect((mysqlRows as Array<{ v: string }>)[0]!.v).toBe(value);
      }
    } finally {
      await client.end();
      await connection.end();
    }
  });
});

/** Runs the fixture app under @waggle/node and returns the exported db.query.text by db.system.name. */
async function exportedStatements(env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const receiver = await startReceiver();
  try {
    const app = runNode({
      script: `${FIXTURES}sql-statements.mjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: FIXTURES,
      receiver,
      env: { OTEL_SERVICE_NAME: 'sql-literals', PG_STATEMENT: POSTGRESQL_CASES[1]!.sql, MYSQL_STATEMENT: MYSQL_CASES[1]!.sql, ...env },
    });
    expect(await app.waitForExit({ timeoutMs: 60_000 })).toEqual({ code: 0, signal: null });
    expect(app.stdout).toContain('s3cr3t'); // both servers returned the planted value
    const spans = await receiver.waitForSpans((all) => all.filter((s) => s.attributes['db.query.text'] !== undefined).length >= 2);
    return Object.fromEntries(spans.filter((s) => s.attributes['db.query.text'] !== undefined).map((s) => [s.attributes['db.system.name'], s.attributes['db.query.text']]));
  } finally {
    await receiver.close();
  }
}

describe.skipIf(!pgUp || !mariadbUp)('db.query.text from the pg and mysql2 instrumentations', () => {
  it('is exported with each dialect\'s literals removed, by db.system.name', async () => {
    // The instrumentations record the statement as sent (shown with redaction off)…
    expect(await exportedStatements({ WAGGLE_RECORD_DB_PARAMETERS: 'true' })).toEqual({ postgresql: POSTGRESQL_CASES[1]!.sql, mysql: MYSQL_CASES[1]!.sql });
    // …and by default each is read in its own dialect: read as the other one, either would leak s3cr3t.
    expect(await exportedStatements()).toEqual({ postgresql: POSTGRESQL_CASES[1]!.stripped, mysql: MYSQL_CASES[1]!.stripped });
  });
});

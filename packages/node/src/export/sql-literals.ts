// Replaces the values in a SQL statement with `?`: a one-pass lexer for the PostgreSQL, MySQL/MariaDB and SQLite
// dialects (SQL Server and the ANSI databases share their rules). It knows where each dialect's strings, quoted
// identifiers, comments and numbers start and end, so a value can neither hide a quote from it nor swallow the
// statement's shape. Runs once per database span as it ends: no regex backtracking, no allocation but the output.

/** How a dialect lexes the parts of a statement that can hold a value. */
export interface SqlDialect {
  /** `\'` escapes a quote inside '…' and "…" strings (MySQL's default; PostgreSQL only in E'…'). */
  backslashEscapes: boolean;
  /** "…" is a string (MySQL without ANSI_QUOTES); otherwise a quoted identifier, which is kept. */
  doubleQuotedStrings: boolean;
  /** `…` is a quoted identifier, kept (MySQL, SQLite). */
  backtickIdentifiers: boolean;
  /** […] is a quoted identifier, kept (SQLite, SQL Server); otherwise `[` opens an array subscript. */
  bracketIdentifiers: boolean;
  /** $$…$$ and $tag$…$tag$ are strings (PostgreSQL). */
  dollarQuotes: boolean;
  /** `#` starts a line comment (MySQL); in PostgreSQL it is an operator. */
  hashComments: boolean;
  /** Block comments nest (PostgreSQL). */
  nestedComments: boolean;
  /** /*! … *\/ is SQL that MySQL runs, scanned like the rest of the statement. */
  executableComments: boolean;
}

const POSTGRESQL: SqlDialect = {
  backslashEscapes: false,
  doubleQuotedStrings: false,
  backtickIdentifiers: false,
  bracketIdentifiers: false,
  dollarQuotes: true,
  hashComments: false,
  nestedComments: true,
  executableComments: false,
};
const MYSQL: SqlDialect = {
  backslashEscapes: true,
  doubleQuotedStrings: true,
  backtickIdentifiers: true,
  bracketIdentifiers: false,
  dollarQuotes: false,
  hashComments: true,
  nestedComments: false,
  executableComments: true,
};
const SQLITE: SqlDialect = { ...POSTGRESQL, backtickIdentifiers: true, bracketIdentifiers: true, dollarQuotes: false, nestedComments: false };
const ANSI: SqlDialect = { ...POSTGRESQL, dollarQuotes: false, nestedComments: false };
/**
 * No or an unknown db.system: where dialects disagree, the reading that hides more wins ("…" and `\'` as in
 * MySQL, dollar quotes, `#` comments), so a value is never exported because the dialect was guessed wrong.
 */
export const UNKNOWN_DIALECT: SqlDialect = { ...MYSQL, dollarQuotes: true };

/** db.system / db.system.name values (old and current semantic conventions) → their lexical rules. */
const DIALECTS = new Map<string, SqlDialect>([
  ['postgresql', POSTGRESQL],
  ['cockroachdb', POSTGRESQL],
  ['redshift', POSTGRESQL],
  ['mysql', MYSQL],
  ['mariadb', MYSQL],
  ['tidb', MYSQL],
  ['sqlite', SQLITE],
  ['mssql', SQLITE],
  ['microsoft.sql_server', SQLITE],
  ['oracle', ANSI],
  ['oracle.db', ANSI],
  ['db2', ANSI],
  ['ibm.db2', ANSI],
]);

/** The lexical rules for a span's `db.system.name` (or older `db.system`) value. */
export function sqlDialect(system: unknown): SqlDialect {
  return (typeof system === 'string' && DIALECTS.get(system)) || UNKNOWN_DIALECT;
}

const QUOTE = 39; // '
const DQUOTE = 34; // "
const BACKTICK = 96;
const BACKSLASH = 92;
const DOLLAR = 36;
const DASH = 45;
const SLASH = 47;
const STAR = 42;
const HASH = 35;
const DOT = 46;
const COLON = 58;
const QMARK = 63;
const LBRACKET = 91;
const RBRACKET = 93;

const isBlank = (c: number): boolean => c === 32 || c === 9;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === DOLLAR;
const isWordEdge = (c: number): boolean => isIdentPart(c) || c === QUOTE || c === DQUOTE || c === BACKTICK;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

/** The index after a run quoted by `close` starting at `start` (the opening quote); a doubled close is escaped. */
function quotedEnd(sql: string, start: number, close: number, backslash: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (backslash && c === BACKSLASH) i++;
    else if (c === close) {
      if (sql.charCodeAt(i + 1) !== close) return i + 1;
      i++;
    }
  }
  return sql.length; // unterminated: the rest of the text is inside it
}

/** The index after a number starting at `start` (a digit, or a dot before one). */
function numberEnd(sql: string, start: number): number {
  let i = start;
  const c1 = sql.charCodeAt(i + 1) | 32;
  if (sql.charCodeAt(i) === 48 && (c1 === 120 || c1 === 98 || c1 === 111)) {
    // 0x1F, 0b101, 0o17
    const digit = c1 === 120 ? isHex : c1 === 98 ? (c: number) => c === 48 || c === 49 : (c: number) => c >= 48 && c <= 55;
    let j = i + 2;
    while (digit(sql.charCodeAt(j)) || (sql.charCodeAt(j) === 95 && digit(sql.charCodeAt(j + 1)))) j++;
    if (j > i + 2) return j;
  }
  const digits = (): void => {
    while (isDigit(sql.charCodeAt(i)) || (sql.charCodeAt(i) === 95 && isDigit(sql.charCodeAt(i + 1)))) i++;
  };
  digits();
  if (sql.charCodeAt(i) === DOT && sql.charCodeAt(i + 1) !== DOT) {
    i++;
    digits();
  }
  if ((sql.charCodeAt(i) | 32) === 101) {
    const sign = sql.charCodeAt(i + 1) === 43 || sql.charCodeAt(i + 1) === DASH ? 1 : 0;
    if (isDigit(sql.charCodeAt(i + 1 + sign))) {
      i += 1 + sign;
      digits();
    }
  }
  return i;
}

/** The last character before `index` that is not white space, or -1. */
function previousSignificant(sql: string, index: number): number {
  for (let i = index - 1; i >= 0; i--) {
    const c = sql.charCodeAt(i);
    if (c > 32) return c;
  }
  return -1;
}

/** After one of these a `-` is a sign (`= -5`), not a subtraction (`a - 5`, `(1) -5`). */
function isSignPosition(previous: number): boolean {
  return !(isIdentPart(previous) || previous === 41 || previous === QUOTE || previous === DQUOTE || previous === BACKTICK || previous === RBRACKET || previous === QMARK);
}

/** A word that turns the string right after it into one literal: E'…', N'…', X'…', B'…', MySQL's _utf8mb4'…'. */
function isStringPrefix(sql: string, start: number, end: number): boolean {
  if (sql.charCodeAt(start) === 95) return end - start > 1; // _charset
  if (end - start !== 1) return false;
  const c = sql.charCodeAt(start) | 32;
  return c === 101 || c === 110 || c === 120 || c === 98;
}

/**
 * Replaces every literal in a SQL statement with `?`: strings in every quoting and escape style of the dialect,
 * dollar-quoted strings, numbers, hex and bit literals. Comments are removed (they can carry values:
 * sqlcommenter tags, notes), except optimizer hints (`/*+ … *\/`) and MySQL's executable comments, which are SQL.
 * Identifiers, keywords, operators and placeholders (`?`, `$1`, `?1`, `:1`, `:name`, `@name`) are kept.
 *
 *     stripSqlLiterals("SELECT * FROM t WHERE a = 'x\\'y' AND b = 0x1F", sqlDialect('mysql'))
 *     // → 'SELECT * FROM t WHERE a = ? AND b = ?'
 */
export function stripSqlLiterals(sql: string, dialect: SqlDialect = UNKNOWN_DIALECT): string {
  let out = '';
  let copied = 0; // sql[copied, i) has not been written to `out` yet
  let hintDepth = 0; // inside /*+ … */ or /*! … */, whose text is scanned as SQL
  let removedComment = false;
  const n = sql.length;
  const literal = (start: number, end: number): number => {
    out += `${sql.slice(copied, start)}?`;
    copied = end;
    return end;
  };
  const comment = (start: number, end: number): number => {
    // The comment goes with the blanks before it; a space stays only where two words would touch (a/**/b).
    let from = start;
    while (from > copied && isBlank(sql.charCodeAt(from - 1))) from--;
    out += sql.slice(copied, from);
    if (isWordEdge(sql.charCodeAt(from - 1)) && isWordEdge(sql.charCodeAt(end))) out += ' ';
    copied = end;
    removedComment = true;
    return end;
  };

  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) === QUOTE && isStringPrefix(sql, i, j)) {
        i = literal(i, quotedEnd(sql, j, QUOTE, dialect.backslashEscapes || (sql.charCodeAt(i) | 32) === 101));
      } else if (sql.charCodeAt(j) === 38 && sql.charCodeAt(j + 1) === QUOTE && j === i + 1 && (c | 32) === 117) {
        i = literal(i, quotedEnd(sql, j + 1, QUOTE, false)); // U&'…'
      } else {
        i = j;
      }
    } else if (isDigit(c) || (c === DOT && isDigit(sql.charCodeAt(i + 1)) && !isIdentPart(sql.charCodeAt(i - 1)))) {
      let start = i;
      if (sql.charCodeAt(i - 1) === DASH && i - 1 >= copied && isSignPosition(previousSignificant(sql, i - 1))) start = i - 1;
      i = literal(start, numberEnd(sql, i));
    } else if (c === QUOTE) {
      i = literal(i, quotedEnd(sql, i, QUOTE, dialect.backslashEscapes));
    } else if (c === DQUOTE) {
      const end = quotedEnd(sql, i, DQUOTE, dialect.doubleQuotedStrings && dialect.backslashEscapes);
      i = dialect.doubleQuotedStrings ? literal(i, end) : end;
    } else if (c === BACKTICK && dialect.backtickIdentifiers) {
      i = quotedEnd(sql, i, BACKTICK, false);
    } else if (c === LBRACKET && dialect.bracketIdentifiers) {
      i = quotedEnd(sql, i, RBRACKET, false);
    } else if ((c === DASH && sql.charCodeAt(i + 1) === DASH) || (c === HASH && dialect.hashComments)) {
      const eol = sql.indexOf('\n', i);
      i = comment(i, eol === -1 ? n : eol);
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const mark = sql.charCodeAt(i + 2);
      if (mark === 43 || (mark === 33 && dialect.executableComments)) {
        hintDepth++;
        i += 3;
        while (isDigit(sql.charCodeAt(i))) i++; // the server version in /*!50001 … */
      } else {
        i = comment(i, blockCommentEnd(sql, i, dialect.nestedComments));
      }
    } else if (c === STAR && hintDepth > 0 && sql.charCodeAt(i + 1) === SLASH) {
      hintDepth--;
      i += 2;
    } else if (c === DOLLAR) {
      i = dollar(sql, i, dialect, literal);
    } else if ((c === QMARK || (c === COLON && isSignPosition(previousSignificant(sql, i)) && sql.charCodeAt(i - 1) !== COLON)) && isDigit(sql.charCodeAt(i + 1))) {
      i += 2; // ?1, :1 placeholders
      while (isDigit(sql.charCodeAt(i))) i++;
    } else {
      i++;
    }
  }
  out += sql.slice(copied);
  return removedComment ? out.trim() : out;
}

/** The index after a block comment starting at `start`; unterminated comments run to the end. */
function blockCommentEnd(sql: string, start: number, nested: boolean): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    const c = sql.charCodeAt(i);
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      if (depth === 0 || nested) depth++;
      i++;
    } else if (c === STAR && sql.charCodeAt(i + 1) === SLASH) {
      if (--depth === 0) return i + 2;
      i++;
    }
  }
  return sql.length;
}

/** `$` starts a dollar-quoted string ($$…$$, $tag$…$tag$), a `$1` placeholder, or is part of a name. */
function dollar(sql: string, i: number, dialect: SqlDialect, literal: (start: number, end: number) => number): number {
  const next = sql.charCodeAt(i + 1);
  if (isDigit(next)) {
    let j = i + 2;
    while (isDigit(sql.charCodeAt(j))) j++;
    return j; // $1
  }
  if (!dialect.dollarQuotes || isIdentPart(sql.charCodeAt(i - 1))) return i + 1;
  let j = i + 1;
  if (next !== DOLLAR) {
    if (!isIdentStart(next)) return i + 1;
    while (j < sql.length && isIdentPart(sql.charCodeAt(j)) && sql.charCodeAt(j) !== DOLLAR) j++;
    if (sql.charCodeAt(j) !== DOLLAR) return i + 1; // a $name parameter
  }
  const tag = sql.slice(i, j + 1);
  const close = sql.indexOf(tag, j + 1);
  return literal(i, close === -1 ? sql.length : close + tag.length);
}

// Replaces the values in a SQL statement with `?`: a one-pass lexer for the PostgreSQL, MySQL/MariaDB and SQLite
// dialects (SQL Server and the ANSI databases share their rules). It knows where each dialect's strings, quoted
// identifiers, comments and numbers start and end, so a value can neither hide a quote from it nor swallow the
// statement's shape. Runs once per database span as it ends, in one pass without backtracking.

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
 * MySQL, dollar quotes, `#` comments, every /*! … *\/ removed), so a wrong guess errs towards hiding a name.
 */
export const UNKNOWN_DIALECT: SqlDialect = { ...MYSQL, dollarQuotes: true, executableComments: false };

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
const RPAREN = 41;

// ASCII character classes as bits; every character from U+0080 up can be part of a name.
const NAME_START = 1; // letters and _
const NAME = 2; // letters, digits, _ and $
const DIGIT = 4;
const HEX = 8;
const BIT = 16;
const OCTAL = 32;
/** What a character can start: a name, a number, or something the scanner must look at; 0 for the rest. */
const START_NAME = 1;
const START_NUMBER = 2;
const START_SPECIAL = 3;
const CLASS = new Uint8Array(128);
const STARTS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_]/.test(ch)) CLASS[c] = NAME_START | NAME | (/[A-Fa-f]/.test(ch) ? HEX : 0);
  if (/[0-9]/.test(ch)) CLASS[c] = NAME | DIGIT | HEX | (c <= 49 ? BIT : 0) | (c <= 55 ? OCTAL : 0);
  STARTS[c] = CLASS[c]! & NAME_START ? START_NAME : CLASS[c]! & DIGIT ? START_NUMBER : `'"\`[-#/*$?:.`.includes(ch) ? START_SPECIAL : 0;
}
CLASS[DOLLAR] = NAME;

/** Whether character code `c` (0 past either end of the text) is in any of the classes `bits`. */
function is(c: number, bits: number): boolean {
  return c >= 128 ? (bits & (NAME_START | NAME)) !== 0 : (CLASS[c]! & bits) !== 0;
}

/** A word-like character: where a removed comment leaves two of them touching, a space keeps them apart. */
function isWordEdge(c: number): boolean {
  return is(c, NAME) || c === QUOTE || c === DQUOTE || c === BACKTICK;
}

/** After one of these a `-` is a sign (`= -5`), not a subtraction (`a - 5`, `(1) -5`). */
function isSignPosition(previous: number): boolean {
  return !(is(previous, NAME) || previous === RPAREN || previous === QUOTE || previous === DQUOTE || previous === BACKTICK || previous === RBRACKET || previous === QMARK);
}

/** One statement's pass: the output so far and how much of the input it has consumed. */
class Scan {
  out = '';
  /** sql[copied, i) has not been written to `out` yet. */
  copied = 0;
  /** Inside /*+ … *\/ or /*! … *\/, whose text is SQL. */
  hintDepth = 0;
  removedComment = false;
  readonly n: number;

  constructor(
    readonly sql: string,
    readonly dialect: SqlDialect,
  ) {
    this.n = sql.length;
  }

  /** The character code at `i`, 0 outside the text. */
  at(i: number): number {
    return i >= 0 && i < this.n ? this.sql.charCodeAt(i) : 0;
  }

  /** Writes what precedes `start`, then `?` for the literal; returns where scanning goes on. */
  literal(start: number, end: number): number {
    this.out += `${this.sql.slice(this.copied, start)}?`;
    this.copied = end;
    return end;
  }

  /** Drops a comment with the blanks before it; a space stays only where two words would touch (a/**\/b). */
  comment(start: number, end: number): number {
    let from = start;
    while (from > this.copied && (this.at(from - 1) === 32 || this.at(from - 1) === 9)) from--;
    this.out += this.sql.slice(this.copied, from);
    if (isWordEdge(this.at(from - 1)) && isWordEdge(this.at(end))) this.out += ' ';
    this.copied = end;
    this.removedComment = true;
    return end;
  }

  /** The index after a run quoted by `close` starting at `start` (the opening quote); a doubled close is escaped. */
  quotedEnd(start: number, close: number, backslash: boolean): number {
    const { sql, n } = this;
    for (let i = start + 1; i < n; i++) {
      const c = sql.charCodeAt(i);
      if (backslash && c === BACKSLASH) i++;
      else if (c === close) {
        if (this.at(i + 1) !== close) return i + 1;
        i++;
      }
    }
    return n; // unterminated: the rest of the text is inside it
  }

  /** The index after the run of `bits` characters from `i`, allowing single underscores between them (1_000). */
  run(i: number, bits: number): number {
    while (is(this.at(i), bits) || (this.at(i) === 95 && is(this.at(i + 1), bits))) i++;
    return i;
  }

  /** The index after a number starting at `start` (a digit, or a dot before one). */
  numberEnd(start: number): number {
    if (this.at(start) === 48) {
      // 0x1F, 0b101, 0o17
      const radix = this.at(start + 1) | 32;
      const bits = radix === 120 ? HEX : radix === 98 ? BIT : radix === 111 ? OCTAL : 0;
      if (bits !== 0 && is(this.at(start + 2), bits)) return this.run(start + 2, bits);
    }
    let i = this.run(start, DIGIT);
    if (this.at(i) === DOT && this.at(i + 1) !== DOT) i = this.run(i + 1, DIGIT);
    if ((this.at(i) | 32) === 101) {
      const sign = this.at(i + 1) === 43 || this.at(i + 1) === DASH ? 1 : 0;
      if (is(this.at(i + 1 + sign), DIGIT)) i = this.run(i + 1 + sign, DIGIT);
    }
    return i;
  }

  /** The last character before `index` that is not white space, or 0. */
  previousSignificant(index: number): number {
    for (let i = index - 1; i >= 0; i--) {
      const c = this.sql.charCodeAt(i);
      if (c > 32) return c;
    }
    return 0;
  }

  /** A name or keyword; a one-letter E, N, X, B, U& or a _charset right before a quote starts a literal. */
  name(i: number): number {
    const { sql, n } = this;
    let j = i + 1;
    for (; j < n; j++) {
      const c = sql.charCodeAt(j);
      if (c < 128 && (CLASS[c]! & NAME) === 0) break;
    }
    const next = this.at(j);
    const first = this.at(i) | 32;
    if (next === QUOTE && (j === i + 1 ? first === 101 || first === 110 || first === 120 || first === 98 : this.at(i) === 95)) {
      return this.literal(i, this.quotedEnd(j, QUOTE, this.dialect.backslashEscapes || (j === i + 1 && first === 101)));
    }
    if (next === 38 && j === i + 1 && first === 117 && this.at(j + 1) === QUOTE) return this.literal(i, this.quotedEnd(j + 1, QUOTE, false)); // U&'…'
    return j;
  }

  number(i: number): number {
    const sign = this.at(i - 1) === DASH && i - 1 >= this.copied && isSignPosition(this.previousSignificant(i - 1));
    return this.literal(sign ? i - 1 : i, this.numberEnd(i));
  }

  /** Quotes, comments, dollar quotes, placeholders and a number's leading dot. */
  special(i: number, c: number): number {
    const { dialect } = this;
    switch (c) {
      case QUOTE:
        return this.literal(i, this.quotedEnd(i, QUOTE, dialect.backslashEscapes));
      case DQUOTE: {
        const end = this.quotedEnd(i, DQUOTE, dialect.doubleQuotedStrings && dialect.backslashEscapes);
        return dialect.doubleQuotedStrings ? this.literal(i, end) : end;
      }
      case BACKTICK:
        return dialect.backtickIdentifiers ? this.quotedEnd(i, BACKTICK, false) : i + 1;
      case LBRACKET:
        return dialect.bracketIdentifiers ? this.quotedEnd(i, RBRACKET, false) : i + 1;
      case DASH:
      case HASH: {
        if (c === DASH ? this.at(i + 1) !== DASH : !dialect.hashComments) return i + 1;
        const eol = this.sql.indexOf('\n', i);
        return this.comment(i, eol === -1 ? this.n : eol);
      }
      case SLASH: {
        if (this.at(i + 1) !== STAR) return i + 1;
        const mark = this.at(i + 2);
        if (mark === 43 || (mark === 33 && dialect.executableComments)) {
          this.hintDepth++;
          return this.run(i + 3, DIGIT); // past the server version in /*!50001 … */
        }
        return this.comment(i, this.blockCommentEnd(i));
      }
      case STAR:
        if (this.hintDepth > 0 && this.at(i + 1) === SLASH) {
          this.hintDepth--;
          return i + 2;
        }
        return i + 1;
      case DOLLAR:
        return this.dollar(i);
      case QMARK:
      case COLON:
        // ?1 and :1 placeholders (not the 2 of a[1:2] or x::2)
        if (is(this.at(i + 1), DIGIT) && (c === QMARK || (this.at(i - 1) !== COLON && isSignPosition(this.previousSignificant(i))))) {
          return this.run(i + 1, DIGIT);
        }
        return i + 1;
      case DOT:
        return is(this.at(i + 1), DIGIT) && !is(this.at(i - 1), NAME) ? this.number(i) : i + 1;
      default:
        return i + 1;
    }
  }

  /** The index after a block comment starting at `start`; unterminated comments run to the end. */
  blockCommentEnd(start: number): number {
    const { sql, n } = this;
    let depth = 0;
    for (let i = start; i < n - 1; i++) {
      const c = sql.charCodeAt(i);
      if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
        if (depth === 0 || this.dialect.nestedComments) depth++;
        i++;
      } else if (c === STAR && sql.charCodeAt(i + 1) === SLASH) {
        if (--depth === 0) return i + 2;
        i++;
      }
    }
    return n;
  }

  /** `$` starts a dollar-quoted string ($$…$$, $tag$…$tag$), a `$1` placeholder, or a `$name` parameter. */
  dollar(i: number): number {
    const next = this.at(i + 1);
    if (is(next, DIGIT)) return this.run(i + 1, DIGIT); // $1
    if (!this.dialect.dollarQuotes || is(this.at(i - 1), NAME)) return i + 1;
    let j = i + 1;
    if (next !== DOLLAR) {
      if (!is(next, NAME_START)) return i + 1;
      while (this.at(j) !== DOLLAR && is(this.at(j), NAME)) j++;
      if (this.at(j) !== DOLLAR) return i + 1; // $name
    }
    const tag = this.sql.slice(i, j + 1);
    const close = this.sql.indexOf(tag, j + 1);
    return this.literal(i, close === -1 ? this.n : close + tag.length);
  }
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
  const scan = new Scan(sql, dialect);
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const kind = c < 128 ? STARTS[c] : START_NAME;
    if (kind === 0) i++;
    else if (kind === START_NAME) i = scan.name(i);
    else if (kind === START_NUMBER) i = scan.number(i);
    else i = scan.special(i, c);
  }
  const out = scan.out + sql.slice(scan.copied);
  return scan.removedComment ? out.trim() : out;
}

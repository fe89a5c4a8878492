// Honeycomb's calculated field (derived column) language: `$column` references, string / raw string / number /
// boolean / null literals, UPPER-CASE function calls (trailing comma allowed) and the documented infix operators,
// which are sugar for the functions (`$a + $b` is `SUM($a, $b)`, `!$a` is `NOT($a)`, `$a != $b` is
// `NOT(EQUALS($a, $b))`). The parser only builds a tree; calculated-field-sql.ts gives it meaning.

/** Honeycomb's limit on an expression's length. */
export const MAX_EXPRESSION_LENGTH = 4095;
/** Deeper nesting than this is refused, so a hostile expression cannot exhaust the stack. */
const MAX_DEPTH = 64;

export type ExprNode =
  | { type: 'column'; name: string; pos: number }
  | { type: 'string'; value: string; pos: number }
  | { type: 'number'; value: number; pos: number }
  | { type: 'bool'; value: boolean; pos: number }
  | { type: 'null'; pos: number }
  /** `infix`: written as an operator (`$a + $b`), so a chain of the same operator may be flattened into it. */
  | { type: 'call'; name: string; args: ExprNode[]; pos: number; infix?: boolean };

/** A syntax or meaning error at a 1-based character position of the expression. */
export class ExpressionError extends Error {
  readonly position: number;
  readonly problem: string;
  constructor(position: number, problem: string) {
    super(`WAGGLE_BACKEND_EXPRESSION_INVALID at position ${position}: ${problem}`);
    this.name = 'ExpressionError';
    this.position = position;
    this.problem = problem;
  }
}

type Token =
  | { t: 'column'; name: string; pos: number }
  | { t: 'string'; value: string; pos: number }
  | { t: 'number'; value: number; pos: number }
  | { t: 'word'; value: string; pos: number }
  | { t: 'op'; value: string; pos: number }
  | { t: 'end'; pos: number };

/** Characters a bare `$name` may hold (Honeycomb's grammar); anything else ends the name. */
const COLUMN_RUNE = /[\p{L}\p{N}_./:=+?-]/u;
const NUMBER = /^(-?)\s*((?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?)/u;
const WORD = /^[A-Za-z][A-Za-z0-9_]*/;
const OPERATORS = ['!=', '<=', '>=', '(', ')', ',', '+', '-', '*', '/', '%', '=', '<', '>', '!'];

function isOperand(tok: Token | undefined): boolean {
  if (!tok) return false;
  if (tok.t === 'op') return tok.value === ')';
  return tok.t !== 'word' || !['AND', 'OR'].includes(tok.value);
}

/** Reads a double-quoted string starting at `start` (the quote); returns its value and the index after it. */
function readQuoted(src: string, start: number): { value: string; end: number } {
  let out = '';
  let i = start + 1;
  for (;;) {
    const c = src[i];
    if (c === undefined || c === '\n') throw new ExpressionError(start + 1, 'unterminated string: close it with "');
    if (c === '"') return { value: out, end: i + 1 };
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = src[i + 1];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };
    if (e !== undefined && e in simple) {
      out += simple[e];
      i += 2;
      continue;
    }
    const hex = (n: number) => {
      const digits = src.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) throw new ExpressionError(i + 1, `\\${e} needs ${n} hex digits`);
      const code = Number.parseInt(digits, 16);
      if (code > 0x10ffff) throw new ExpressionError(i + 1, `\\${e}${digits} is not a Unicode code point`);
      out += String.fromCodePoint(code);
      i += 2 + n;
    };
    if (e === 'x') hex(2);
    else if (e === 'u') hex(4);
    else if (e === 'U') hex(8);
    else if (e !== undefined && /[0-7]/.test(e)) {
      const digits = src.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(digits)) throw new ExpressionError(i + 1, 'an octal escape needs 3 digits, like \\101');
      out += String.fromCodePoint(Number.parseInt(digits, 8));
      i += 4;
    } else {
      throw new ExpressionError(i + 1, `unknown escape \\${e ?? ''} in a string; use a raw string (\`…\`) for backslashes`);
    }
  }
}

function readRaw(src: string, start: number): { value: string; end: number } {
  const close = src.indexOf('`', start + 1);
  if (close < 0) throw new ExpressionError(start + 1, 'unterminated raw string: close it with `');
  return { value: src.slice(start + 1, close), end: close + 1 };
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/u.test(c)) {
      i++;
      continue;
    }
    const pos = i + 1;
    if (c === '$') {
      const next = src[i + 1];
      if (next === '"' || next === '`') {
        const q = next === '"' ? readQuoted(src, i + 1) : readRaw(src, i + 1);
        if (q.value === '') throw new ExpressionError(pos, 'empty column name');
        tokens.push({ t: 'column', name: q.value, pos });
        i = q.end;
        continue;
      }
      let j = i + 1;
      while (j < src.length && COLUMN_RUNE.test(src[j]!)) j++;
      if (j === i + 1) throw new ExpressionError(pos, 'expected a column name after $ (quote names with spaces: $"my column")');
      tokens.push({ t: 'column', name: src.slice(i + 1, j), pos });
      i = j;
      continue;
    }
    if (c === '"' || c === '`') {
      const q = c === '"' ? readQuoted(src, i) : readRaw(src, i);
      tokens.push({ t: 'string', value: q.value, pos });
      i = q.end;
      continue;
    }
    // A minus right after an operand is the subtraction operator, otherwise it may start a negative number.
    const number = c === '-' && isOperand(tokens.at(-1)) ? null : NUMBER.exec(src.slice(i));
    if (number) {
      tokens.push({ t: 'number', value: Number(number[1]! + number[2]!), pos });
      i += number[0].length;
      continue;
    }
    const word = WORD.exec(src.slice(i));
    if (word) {
      tokens.push({ t: 'word', value: word[0], pos });
      i += word[0].length;
      continue;
    }
    if (src.startsWith('==', i)) throw new ExpressionError(pos, 'use = for equality');
    if (src.startsWith('&&', i) || src.startsWith('||', i)) throw new ExpressionError(pos, 'use AND / OR');
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionError(pos, `unexpected character ${JSON.stringify(c)}`);
    tokens.push({ t: 'op', value: op, pos });
    i += op.length;
  }
  tokens.push({ t: 'end', pos: src.length + 1 });
  return tokens;
}

const ORDERING: Record<string, string> = { '<': 'LT', '<=': 'LTE', '>': 'GT', '>=': 'GTE' };
const MULTIPLICATIVE: Record<string, string> = { '*': 'MUL', '/': 'DIV', '%': 'MOD' };
/** Operators whose chains mean the same as one call with every operand. */
const FLATTENED = new Set(['SUM', 'MUL', 'AND', 'OR']);

function isOp(tok: Token, ...ops: string[]): boolean {
  return tok.t === 'op' && ops.includes(tok.value);
}

function describe(tok: Token): string {
  switch (tok.t) {
    case 'end':
      return 'the end of the expression';
    case 'column':
      return `$${tok.name}`;
    case 'string':
      return JSON.stringify(tok.value);
    case 'number':
      return String(tok.value);
    default:
      return JSON.stringify(tok.value);
  }
}

/**
 * Parses a calculated field expression. Operator precedence follows Honeycomb's published grammar
 * (honeycomb-derived-column-validator's HCDC.g4), tightest first: `!`; `* / %`; `-`; `+`; `< <= > >=`; `= !=`;
 * `AND`; `OR`.
 *
 *     parseExpression('IF(GTE($duration_ms, 1000), "slow", "fast")')
 */
export function parseExpression(src: string): ExprNode {
  if (src.length > MAX_EXPRESSION_LENGTH) throw new ExpressionError(MAX_EXPRESSION_LENGTH + 1, `expressions are at most ${MAX_EXPRESSION_LENGTH} characters`);
  if (src.trim() === '') throw new ExpressionError(1, 'the expression is empty');
  const tokens = tokenize(src);
  let at = 0;
  let depth = 0;
  const peek = (): Token => tokens[at]!;
  const next = (): Token => tokens[at++]!;
  const expect = (op: string, after: string): void => {
    const tok = next();
    if (!isOp(tok, op)) throw new ExpressionError(tok.pos, `expected "${op}" ${after}, found ${describe(tok)}`);
  };
  const nest = <T>(pos: number, fn: () => T): T => {
    if (++depth > MAX_DEPTH) throw new ExpressionError(pos, `expressions nest at most ${MAX_DEPTH} levels deep`);
    try {
      return fn();
    } finally {
      depth--;
    }
  };
  const call = (name: string, pos: number, ...args: ExprNode[]): ExprNode & { type: 'call' } => ({ type: 'call', name, args, pos });

  const binary = (operand: () => ExprNode, ops: Record<string, string>, words: string[] = []): ExprNode => {
    let left = operand();
    for (;;) {
      const tok = peek();
      const op = tok.t === 'op' && tok.value in ops ? ops[tok.value]! : tok.t === 'word' && words.includes(tok.value) ? tok.value : undefined;
      if (op === undefined) return left;
      next();
      const right = operand();
      // `$a + $b + $c` is one SUM of three, not SUM(SUM($a, $b), $c): long chains stay shallow.
      if (FLATTENED.has(op) && left.type === 'call' && left.name === op && left.infix) left.args.push(right);
      else left = { ...call(op, tok.pos, left, right), infix: true };
    }
  };
  // Honeycomb's grammar, loosest first: OR, AND, = !=, < <= > >=, +, -, * / %, then prefix !.
  const or = (): ExprNode => binary(and, {}, ['OR']);
  const and = (): ExprNode => binary(equality, {}, ['AND']);
  const equality = (): ExprNode => {
    let left = ordering();
    for (;;) {
      const tok = peek();
      if (tok.t !== 'op' || (tok.value !== '=' && tok.value !== '!=')) return left;
      next();
      const right = ordering();
      const equals = { ...call('EQUALS', tok.pos, left, right), infix: true };
      left = tok.value === '=' ? equals : { ...call('NOT', tok.pos, equals), infix: true };
    }
  };
  const ordering = (): ExprNode => binary(plus, ORDERING);
  const plus = (): ExprNode => binary(minus, { '+': 'SUM' });
  const minus = (): ExprNode => binary(multiplicative, { '-': 'SUB' });
  const multiplicative = (): ExprNode => binary(unary, MULTIPLICATIVE);
  const unary = (): ExprNode => {
    const tok = peek();
    if (isOp(tok, '!')) {
      next();
      return nest(tok.pos, () => ({ ...call('NOT', tok.pos, unary()), infix: true }));
    }
    return primary();
  };
  const primary = (): ExprNode => {
    const tok = next();
    switch (tok.t) {
      case 'column':
        return { type: 'column', name: tok.name, pos: tok.pos };
      case 'string':
        return { type: 'string', value: tok.value, pos: tok.pos };
      case 'number':
        return { type: 'number', value: tok.value, pos: tok.pos };
      case 'word': {
        if (tok.value === 'true' || tok.value === 'false') return { type: 'bool', value: tok.value === 'true', pos: tok.pos };
        if (tok.value === 'null') return { type: 'null', pos: tok.pos };
        if (!isOp(peek(), '(')) {
          throw new ExpressionError(tok.pos, `unexpected word ${JSON.stringify(tok.value)}: columns start with $ ($${tok.value}), functions take (…)`);
        }
        next();
        return nest(tok.pos, () => {
          const args: ExprNode[] = [];
          while (!isOp(peek(), ')')) {
            args.push(or());
            if (isOp(peek(), ',')) next();
            else if (!isOp(peek(), ')')) {
              const bad = peek();
              throw new ExpressionError(bad.pos, `expected "," or ")" in the arguments of ${tok.value}, found ${describe(bad)}`);
            }
          }
          next();
          return call(tok.value, tok.pos, ...args);
        });
      }
      case 'op':
        if (tok.value === '(') {
          const inner = nest(tok.pos, or);
          expect(')', 'to close "("');
          return inner;
        }
        throw new ExpressionError(tok.pos, `unexpected ${describe(tok)}`);
      case 'end':
        throw new ExpressionError(tok.pos, 'the expression ends too early');
    }
  };

  const root = or();
  const deepest = deepestNode(root);
  if (deepest.depth > MAX_DEPTH) throw new ExpressionError(deepest.pos, `expressions nest at most ${MAX_DEPTH} levels deep`);
  const rest = peek();
  if (rest.t !== 'end') {
    throw new ExpressionError(rest.pos, `unexpected ${describe(rest)} after a complete expression (infix operators need spaces around them: $a + 1)`);
  }
  return root;
}

function deepestNode(node: ExprNode): { depth: number; pos: number } {
  if (node.type !== 'call') return { depth: 1, pos: node.pos };
  let best = { depth: 0, pos: node.pos };
  for (const a of node.args) {
    const d = deepestNode(a);
    if (d.depth > best.depth) best = d;
  }
  return { depth: best.depth + 1, pos: best.pos };
}


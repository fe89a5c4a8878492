// Calculated fields as SQL: each function of Honeycomb's expression language compiles to a DuckDB expression over
// one event's columns. Literals are bound parameters; regular expressions must be literals (RE2, as in Honeycomb,
// checked by DuckDB before they are used). An argument a template needs more than once is bound once through a
// lambda when it is not a plain column or parameter, so nesting cannot make the SQL grow exponentially.
import { ExpressionError, type ExprNode } from './calculated-field-parser.js';
import { numberText, type QueryColumn, type ValueKind } from './query-columns.js';
import { Params } from './sql.js';

type Kind = ValueKind | 'null';
interface Value {
  sql: string;
  kind: Kind;
}

export interface CompileScope {
  /** `$name`: a stored column, a declared one or another calculated field. Throws an ExpressionError when unknown. */
  column(name: string, pos: number): QueryColumn;
}

/** SQL terms that may be repeated freely: a column, a parameter, a typed NULL, a boolean. */
const SIMPLE = /^(?:"[A-Za-z0-9_]+"|\$\d+|CAST\(\$\d+ AS [A-Z]+\)|CAST\(NULL AS [A-Z]+\)|TRUE|FALSE|_v\d+)$/;
const SQL_TYPE: Record<ValueKind, string> = { number: 'DOUBLE', string: 'VARCHAR', any: 'VARCHAR', bool: 'BOOLEAN' };

const isText = (k: Kind): boolean => k === 'string' || k === 'any';

interface FunctionDef {
  min: number;
  max: number;
  compile(c: Compiler, args: ExprNode[], node: ExprNode & { type: 'call' }): Value;
}

class Compiler {
  private lambdas = 0;
  constructor(
    readonly p: Params,
    private readonly scope: CompileScope,
  ) {}

  expr(node: ExprNode): Value {
    switch (node.type) {
      case 'string':
        return { sql: `CAST(${this.p.add(node.value)} AS VARCHAR)`, kind: 'string' };
      case 'number':
        return { sql: `CAST(${this.p.add(node.value)} AS DOUBLE)`, kind: 'number' };
      case 'bool':
        return { sql: node.value ? 'TRUE' : 'FALSE', kind: 'bool' };
      case 'null':
        return { sql: 'NULL', kind: 'null' };
      case 'column': {
        const col = this.scope.column(node.name, node.pos);
        return { sql: col.sql(this.p), kind: col.kind };
      }
      case 'call': {
        const fn = FUNCTIONS[node.name];
        if (!fn) {
          const upper = node.name.toUpperCase();
          const hint = FUNCTIONS[upper] ? ` (function names are upper case: ${upper})` : `; functions are ${Object.keys(FUNCTIONS).join(', ')}`;
          throw new ExpressionError(node.pos, `unknown function ${node.name}${hint}`);
        }
        const n = node.args.length;
        if (n < fn.min || n > fn.max) {
          const want = fn.min === fn.max ? `${fn.min}` : fn.max === Infinity ? `${fn.min} or more` : `${fn.min} to ${fn.max}`;
          throw new ExpressionError(node.pos, `${node.name} takes ${want} argument${want === '1' ? '' : 's'}, got ${n}`);
        }
        return fn.compile(this, node.args, node);
      }
    }
  }

  /** Applies `fn` to the SQL of each value, binding the ones that are not simple terms once (a lambda each). */
  once(sqls: string[], fn: (terms: string[]) => string): string {
    const i = sqls.findIndex((s) => !SIMPLE.test(s));
    if (i < 0) return fn(sqls);
    const name = `_v${++this.lambdas}`;
    const rest = sqls.with(i, name);
    return `(list_transform([${sqls[i]}], lambda ${name}: ${this.once(rest, fn)}))[1]`;
  }

  /**
   * `result` in place of values a template does not use. Their SQL stays in the statement when it holds bound
   * parameters (DuckDB refuses parameters the statement does not mention), as a test that never changes the result.
   */
  drop(values: Value[], result: string, type: string): string {
    const bound = values.filter((v) => /\$\d/.test(v.sql));
    if (bound.length === 0) return result === 'NULL' ? `CAST(NULL AS ${type})` : result;
    const never = `CAST(CASE WHEN ${bound.map((v) => `(${v.sql}) IS NULL`).join(' OR ')} THEN NULL END AS ${type})`;
    return result === 'NULL' ? never : `coalesce(${never}, ${result})`;
  }

  /** The value as a number, or NULL when it has none (text that does not read as a number, booleans). */
  number(v: Value): string {
    if (v.kind === 'number') return v.sql;
    if (isText(v.kind)) return `TRY_CAST(${v.sql} AS DOUBLE)`;
    if (v.kind === 'null') return `CAST(${v.sql} AS DOUBLE)`;
    return this.drop([v], 'NULL', 'DOUBLE');
  }

  /** A math operand: "strings are parsed into numbers if possible, unparseable strings or other values evaluate to zero"; missing stays NULL. */
  operand(v: Value): string {
    if (v.kind === 'number') return v.sql;
    if (v.kind === 'null') return `CAST(${v.sql} AS DOUBLE)`;
    if (v.kind === 'bool') return `CASE WHEN ${v.sql} IS NULL THEN NULL ELSE CAST(0 AS DOUBLE) END`;
    return this.once([v.sql], ([x]) => `CASE WHEN ${x} IS NULL THEN NULL ELSE coalesce(TRY_CAST(${x} AS DOUBLE), 0) END`);
  }

  /** The value as text: numbers as JavaScript writes them, booleans as true/false. */
  text(v: Value): string {
    switch (v.kind) {
      case 'number':
        return this.once([v.sql], ([x]) => numberText(x!));
      case 'bool':
        return `CAST(${v.sql} AS VARCHAR)`;
      case 'null':
        return `CAST(${v.sql} AS VARCHAR)`;
      default:
        return v.sql;
    }
  }

  /** Honeycomb's truthiness: true, non-zero numbers and the string "true" (text holding a non-zero number too). */
  truthy(v: Value): string {
    switch (v.kind) {
      case 'bool':
        return `coalesce(${v.sql}, false)`;
      case 'number':
        return `coalesce(${v.sql} <> 0, false)`;
      case 'string':
        return `coalesce(${v.sql} = 'true', false)`;
      case 'any':
        return this.once([v.sql], ([x]) => `coalesce(${x} = 'true' OR TRY_CAST(${x} AS DOUBLE) <> 0, false)`);
      case 'null':
        return this.drop([v], 'FALSE', 'BOOLEAN');
    }
  }

  /** Values of several kinds as one: same kind stays, mixed kinds become text (`any`). */
  unify(values: Value[]): { kind: Kind; sqls: string[] } {
    const kinds = new Set(values.map((v) => v.kind).filter((k) => k !== 'null'));
    const kind: Kind = kinds.size === 0 ? 'null' : kinds.size === 1 ? [...kinds][0]! : 'any';
    const sqls = values.map((v) => {
      if (v.kind === kind) return v.sql;
      if (kind === 'null') return v.sql;
      if (v.kind === 'null') return `CAST(${v.sql} AS ${SQL_TYPE[kind]})`;
      return this.text(v);
    });
    return { kind, sqls };
  }

  /** LT/LTE/GT/GTE and EQUALS: numbers compare as numbers, strings as text, different types never match. */
  compare(op: string, a: Value, b: Value): string {
    const never = () => this.drop([a, b], 'FALSE', 'BOOLEAN');
    if (a.kind === 'null' || b.kind === 'null') return never();
    const ordering = op !== '=';
    const k = new Set([a.kind, b.kind]);
    if (a.kind === b.kind) {
      if (a.kind === 'bool' && ordering) return never();
      if (a.kind !== 'any') return `coalesce(${a.sql} ${op} ${b.sql}, false)`;
      return this.once([a.sql, b.sql], ([x, y]) => {
        const nx = `TRY_CAST(${x} AS DOUBLE)`;
        const ny = `TRY_CAST(${y} AS DOUBLE)`;
        return `coalesce(CASE WHEN ${nx} IS NOT NULL AND ${ny} IS NOT NULL THEN ${nx} ${op} ${ny} ELSE ${x} ${op} ${y} END, false)`;
      });
    }
    if (k.has('any') && k.has('number')) return `coalesce(${this.number(a)} ${op} ${this.number(b)}, false)`;
    if (k.has('any') && k.has('string')) return `coalesce(${a.sql} ${op} ${b.sql}, false)`;
    if (k.has('any') && k.has('bool') && !ordering) {
      const bool = (v: Value) => (v.kind === 'bool' ? v.sql : `TRY_CAST(${v.sql} AS BOOLEAN)`);
      return `coalesce(${bool(a)} = ${bool(b)}, false)`;
    }
    return never();
  }

  /** A string literal argument (a pattern, a format, a mode). */
  literal(node: ExprNode, fn: string, what: string): string {
    if (node.type !== 'string') throw new ExpressionError(node.pos, `the ${what} of ${fn} must be a string literal ("…" or \`…\`)`);
    return node.value;
  }

  numberLiteral(node: ExprNode, fn: string, what: string): number {
    if (node.type !== 'number') throw new ExpressionError(node.pos, `the ${what} of ${fn} must be a number`);
    return node.value;
  }

  /**
   * SUM, SUB, MUL: a missing operand counts as 0, but an event missing every operand gets no value (NULL). Sums of
   * nested expressions use list_sum, which skips NULLs and is NULL when all are: each operand appears once without
   * the cost of binding it through a lambda.
   */
  variadicMath(args: ExprNode[], op: '+' | '-' | '*'): Value {
    const terms = args.map((a) => this.operand(this.expr(a)));
    if (op !== '*' && !terms.every((t) => SIMPLE.test(t))) {
      const signed = op === '-' ? [terms[0]!, `-(${terms[1]})`] : terms;
      return { sql: `list_sum([${signed.join(', ')}])`, kind: 'number' };
    }
    const sql = this.once(terms, (xs) => {
      const allMissing = xs.map((x) => `${x} IS NULL`).join(' AND ');
      return `CASE WHEN ${allMissing} THEN NULL ELSE (${xs.map((x) => `coalesce(${x}, 0)`).join(` ${op} `)}) END`;
    });
    return { sql, kind: 'number' };
  }

  stringTest(args: ExprNode[], fn: string): Value {
    const [a, b] = args.map((x) => this.expr(x)) as [Value, Value];
    if (!isText(a.kind) || !isText(b.kind)) return { sql: this.drop([a, b], 'FALSE', 'BOOLEAN'), kind: 'bool' };
    return { sql: `coalesce(${fn}(${a.sql}, ${b.sql}), false)`, kind: 'bool' };
  }

  regex(args: ExprNode[], name: string, build: (s: string, pattern: string, text: string) => string, kind: Kind): Value {
    const pattern = this.literal(args[1]!, name, 'pattern');
    const s = this.expr(args[0]!);
    if (!isText(s.kind)) return { sql: this.drop([s], kind === 'bool' ? 'FALSE' : 'NULL', SQL_TYPE[kind as ValueKind]), kind };
    return { sql: build(s.sql, `CAST(${this.p.add(pattern)} AS VARCHAR)`, pattern), kind };
  }
}

/** 1 when the pattern has a capturing group (REG_VALUE then returns the first group), else 0 (the whole match). */
function firstGroup(pattern: string): number {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(' && (pattern[i + 1] !== '?' || pattern[i + 2] === 'P' || (pattern[i + 2] === '<' && pattern[i + 3] !== '=' && pattern[i + 3] !== '!'))) {
      return 1;
    }
  }
  return 0;
}

const comparison = (op: string): FunctionDef => ({
  min: 2,
  max: 2,
  compile: (c, args) => ({ sql: c.compare(op, c.expr(args[0]!), c.expr(args[1]!)), kind: 'bool' }),
});

/** EQUALS and IN: Honeycomb implements `=` as a one-value IN. */
const membership: FunctionDef = {
  min: 2,
  max: Infinity,
  compile(c, args) {
    const [v, ...options] = args.map((a) => c.expr(a)) as [Value, ...Value[]];
    const sql = c.once([v.sql], ([x]) => options.map((o) => c.compare('=', { sql: x!, kind: v.kind }, o)).join(' OR '));
    return { sql: `(${sql})`, kind: 'bool' };
  },
};

const cast = (kind: ValueKind, convert: (c: Compiler, v: Value) => string): FunctionDef => ({
  min: 1,
  max: 1,
  compile: (c, args) => ({ sql: convert(c, c.expr(args[0]!)), kind }),
});

const extreme = (fn: 'least' | 'greatest'): FunctionDef => ({
  min: 1,
  max: Infinity,
  compile(c, args) {
    const values = args.map((a) => c.expr(a));
    // "Of the same type as the first non-empty argument": numbers when any argument is one, otherwise text.
    const numeric = values.some((v) => v.kind === 'number');
    const used = (v: Value) => (numeric ? v.kind === 'number' || v.kind === 'any' : isText(v.kind));
    const kept = values.filter(used);
    const others = values.filter((v) => !used(v));
    const kind: ValueKind = numeric ? 'number' : 'string';
    const result = kept.length === 0 ? 'NULL' : `${fn}(${kept.map((v) => (numeric ? c.number(v) : v.sql)).join(', ')})`;
    return { sql: c.drop(others, result, SQL_TYPE[kind]), kind };
  },
});

const FUNCTIONS: Record<string, FunctionDef> = {
  IF: {
    min: 2,
    max: Infinity,
    compile(c, args) {
      const whens: string[] = [];
      const results: Value[] = [];
      for (let i = 0; i + 1 < args.length; i += 2) {
        whens.push(c.truthy(c.expr(args[i]!)));
        results.push(c.expr(args[i + 1]!));
      }
      if (args.length % 2 === 1) results.push(c.expr(args.at(-1)!));
      const { kind, sqls } = c.unify(results);
      const cases = whens.map((w, i) => `WHEN ${w} THEN ${sqls[i]}`).join(' ');
      const otherwise = args.length % 2 === 1 ? ` ELSE ${sqls.at(-1)}` : '';
      return { sql: `CASE ${cases}${otherwise} END`, kind };
    },
  },
  SWITCH: {
    min: 3,
    max: Infinity,
    compile(c, args) {
      const subject = c.expr(args[0]!);
      const cases: Value[] = [];
      const results: Value[] = [];
      for (let i = 1; i + 1 < args.length; i += 2) {
        const k = args[i]!;
        if (k.type !== 'string' && k.type !== 'number' && k.type !== 'bool') throw new ExpressionError(k.pos, 'SWITCH cases must be literals');
        cases.push(c.expr(k));
        results.push(c.expr(args[i + 1]!));
      }
      const hasDefault = args.length % 2 === 0;
      if (hasDefault) results.push(c.expr(args.at(-1)!));
      const { kind, sqls } = c.unify(results);
      const sql = c.once([subject.sql], ([x]) => {
        const s = { sql: x!, kind: subject.kind };
        const whens = cases.map((k, i) => `WHEN ${c.compare('=', s, k)} THEN ${sqls[i]}`).join(' ');
        return `CASE ${whens}${hasDefault ? ` ELSE ${sqls.at(-1)}` : ''} END`;
      });
      return { sql, kind };
    },
  },
  COALESCE: {
    min: 1,
    max: Infinity,
    compile(c, args) {
      const { kind, sqls } = c.unify(args.map((a) => c.expr(a)));
      // "The first non-empty argument": an empty string counts as missing.
      const terms = isText(kind) ? sqls.map((s) => `nullif(${s}, '')`) : sqls;
      return { sql: `coalesce(${terms.join(', ')})`, kind };
    },
  },
  LT: comparison('<'),
  LTE: comparison('<='),
  GT: comparison('>'),
  GTE: comparison('>='),
  EQUALS: membership,
  IN: membership,
  AND: { min: 1, max: Infinity, compile: (c, args) => ({ sql: `(${args.map((a) => c.truthy(c.expr(a))).join(' AND ')})`, kind: 'bool' }) },
  OR: { min: 1, max: Infinity, compile: (c, args) => ({ sql: `(${args.map((a) => c.truthy(c.expr(a))).join(' OR ')})`, kind: 'bool' }) },
  NOT: { min: 1, max: 1, compile: (c, args) => ({ sql: `(NOT ${c.truthy(c.expr(args[0]!))})`, kind: 'bool' }) },
  EXISTS: { min: 1, max: 1, compile: (c, args) => ({ sql: `(${c.expr(args[0]!).sql} IS NOT NULL)`, kind: 'bool' }) },
  SUM: { min: 1, max: Infinity, compile: (c, args) => c.variadicMath(args, '+') },
  SUB: { min: 2, max: 2, compile: (c, args) => c.variadicMath(args, '-') },
  MUL: { min: 1, max: Infinity, compile: (c, args) => c.variadicMath(args, '*') },
  DIV: {
    min: 2,
    max: 2,
    // "A division by zero evaluates to null" (and so does a missing divisor).
    compile: (c, args) => {
      const [a, b] = args.map((x) => c.operand(c.expr(x)));
      return { sql: `(coalesce(${a}, 0) / nullif(coalesce(${b}, 0), 0))`, kind: 'number' };
    },
  },
  MOD: {
    min: 2,
    max: 2,
    compile: (c, args) => {
      const [a, b] = args.map((x) => c.operand(c.expr(x)));
      return { sql: `(coalesce(${a}, 0) % nullif(coalesce(${b}, 0), 0))`, kind: 'number' };
    },
  },
  MIN: extreme('least'),
  MAX: extreme('greatest'),
  LOG10: { min: 1, max: 1, compile: (c, args) => ({ sql: `log10(nullif(greatest(${c.operand(c.expr(args[0]!))}, 0), 0))`, kind: 'number' }) },
  BUCKET: {
    min: 2,
    max: 4,
    compile(c, args) {
      const size = c.numberLiteral(args[1]!, 'BUCKET', 'bucket size');
      if (!(size > 0)) throw new ExpressionError(args[1]!.pos, 'the bucket size of BUCKET must be greater than 0');
      const min = args[2] ? c.numberLiteral(args[2], 'BUCKET', 'minimum') : undefined;
      const max = args[3] ? c.numberLiteral(args[3], 'BUCKET', 'maximum') : undefined;
      if (min !== undefined && max !== undefined && max <= min) throw new ExpressionError(args[3]!.pos, 'the maximum of BUCKET must be greater than its minimum');
      const base = min ?? 0;
      const x = c.operand(c.expr(args[0]!));
      const num = (n: number) => `CAST(${c.p.add(n)} AS DOUBLE)`;
      const label = (s: string) => `CAST(${c.p.add(s)} AS VARCHAR)`;
      const sql = c.once([x], ([v]) => {
        const lo = `(floor((${v} - ${num(base)}) / ${num(size)}) * ${num(size)} + ${num(base)})`;
        const range = c.once([lo], ([l]) => `concat(${numberText(l!)}, '-', ${numberText(`(${l} + ${num(size)})`)})`);
        const below = min === undefined ? '' : ` WHEN ${v} < ${num(min)} THEN ${label(`< ${min}`)}`;
        const above = max === undefined ? '' : ` WHEN ${v} >= ${num(max)} THEN ${label(`>= ${max}`)}`;
        return `CASE WHEN ${v} IS NULL THEN NULL${below}${above} ELSE ${range} END`;
      });
      return { sql, kind: 'string' };
    },
  },
  CONCAT: { min: 1, max: Infinity, compile: (c, args) => ({ sql: `concat(${args.map((a) => c.text(c.expr(a))).join(', ')})`, kind: 'string' }) },
  TO_LOWER: { min: 1, max: 1, compile: (c, args) => ({ sql: `lower(${c.text(c.expr(args[0]!))})`, kind: 'string' }) },
  STARTS_WITH: { min: 2, max: 2, compile: (c, args) => c.stringTest(args, 'starts_with') },
  ENDS_WITH: { min: 2, max: 2, compile: (c, args) => c.stringTest(args, 'suffix') },
  CONTAINS: { min: 2, max: 2, compile: (c, args) => c.stringTest(args, 'contains') },
  LENGTH: {
    min: 1,
    max: 2,
    compile(c, args) {
      const mode = args[1] ? c.literal(args[1], 'LENGTH', 'mode') : 'chars';
      if (mode !== 'chars' && mode !== 'bytes') throw new ExpressionError(args[1]!.pos, 'the mode of LENGTH must be "chars" (the default) or "bytes"');
      return { sql: `${mode === 'bytes' ? 'strlen' : 'length'}(${c.text(c.expr(args[0]!))})`, kind: 'number' };
    },
  },
  REG_MATCH: {
    min: 2,
    max: 2,
    // "false if the first argument is not a string or is empty".
    compile: (c, args) => c.regex(args, 'REG_MATCH', (s, p) => c.once([s], ([x]) => `coalesce(${x} <> '' AND regexp_matches(${x}, ${p}), false)`), 'bool'),
  },
  REG_VALUE: {
    min: 2,
    max: 2,
    compile: (c, args) => c.regex(args, 'REG_VALUE', (s, p, pattern) => `regexp_extract(${s}, ${p}, ${firstGroup(pattern)})`, 'string'),
  },
  REG_COUNT: {
    min: 2,
    max: 2,
    compile: (c, args) => c.regex(args, 'REG_COUNT', (s, p) => `CAST(len(regexp_extract_all(${s}, ${p})) AS DOUBLE)`, 'number'),
  },
  UNIX_TIMESTAMP: {
    min: 1,
    max: 1,
    compile(c, args) {
      const v = c.expr(args[0]!);
      return { sql: isText(v.kind) ? `epoch(TRY_CAST(${v.sql} AS TIMESTAMPTZ))` : c.drop([v], 'NULL', 'DOUBLE'), kind: 'number' };
    },
  },
  EVENT_TIMESTAMP: { min: 0, max: 0, compile: () => ({ sql: '(ts / 1000.0)', kind: 'number' }) },
  INGEST_TIMESTAMP: {
    min: 0,
    max: 0,
    compile: (_c, _args, node) => {
      throw new ExpressionError(node.pos, 'INGEST_TIMESTAMP() is not available: Waggle does not record when each event arrived');
    },
  },
  SAMPLE_RATE: { min: 0, max: 0, compile: () => ({ sql: 'sample_rate', kind: 'number' }) },
  FORMAT_TIME: {
    min: 2,
    max: 2,
    compile(c, args) {
      const format = c.literal(args[0]!, 'FORMAT_TIME', 'format');
      const t = c.expr(args[1]!);
      // Seconds since the epoch (EVENT_TIMESTAMP(), UNIX_TIMESTAMP(…)), or text holding them or an RFC 3339 time; UTC.
      const seconds = isText(t.kind)
        ? c.once([t.sql], ([x]) => `coalesce(TRY_CAST(${x} AS DOUBLE), epoch(TRY_CAST(${x} AS TIMESTAMPTZ)))`)
        : c.number(t);
      return { sql: `strftime(epoch_ms(CAST(round(${seconds} * 1000) AS BIGINT)), CAST(${c.p.add(format)} AS VARCHAR))`, kind: 'string' };
    },
  },
  INT: cast('number', (c, v) => `coalesce(trunc(${c.number(v)}), 0)`),
  FLOAT: cast('number', (c, v) => `coalesce(${c.number(v)}, 0)`),
  BOOL: cast('bool', (c, v) => c.truthy(v)),
  STRING: cast('string', (c, v) => `coalesce(${c.text(v)}, '')`),
};

/** Compiles a parsed expression to SQL for one event's value; its literals are bound into `p`. */
export function compileExpression(node: ExprNode, p: Params, scope: CompileScope): { sql: string; kind: ValueKind } {
  const v = new Compiler(p, scope).expr(node);
  return v.kind === 'null' ? { sql: `CAST(${v.sql} AS VARCHAR)`, kind: 'any' } : { sql: v.sql, kind: v.kind };
}

/** The regular expressions an expression uses (all literals), for checking them before they run. */
export function expressionPatterns(node: ExprNode, out: { pattern: string; pos: number }[] = []): { pattern: string; pos: number }[] {
  if (node.type !== 'call') return out;
  const p = node.args[1];
  if (node.name.startsWith('REG_') && p?.type === 'string') out.push({ pattern: p.value, pos: p.pos });
  for (const a of node.args) expressionPatterns(a, out);
  return out;
}

/** A calculated field as a query column; compiling it once up front checks it and tells its kind. */
export function calculatedColumn(key: string, node: ExprNode, scope: CompileScope): QueryColumn {
  const { kind } = compileExpression(node, new Params(), scope);
  return { key, kind, sql: (p) => compileExpression(node, p, scope).sql };
}

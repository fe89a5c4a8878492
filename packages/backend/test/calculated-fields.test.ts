// The calculated field parser and compiler on their own: Honeycomb's grammar (precedence, column names, literals),
// error positions, and SQL that grows linearly with nesting.
import { describe, expect, it } from 'vitest';
import { ExpressionError, parseExpression, type ExprNode } from '../src/calculated-field-parser.js';
import { compileExpression } from '../src/calculated-field-sql.js';
import type { QueryColumn } from '../src/query-columns.js';
import { Params } from '../src/sql.js';

/** A compact rendering of a tree: calls as NAME(args), columns as $name, literals as JSON. */
function show(n: ExprNode): string {
  switch (n.type) {
    case 'call':
      return `${n.name}(${n.args.map(show).join(', ')})`;
    case 'column':
      return `$${n.name}`;
    case 'null':
      return 'null';
    default:
      return JSON.stringify(n.value);
  }
}

const errorOf = (src: string): ExpressionError => {
  try {
    parseExpression(src);
  } catch (error) {
    return error as ExpressionError;
  }
  throw new Error(`${src} parsed`);
};

describe('calculated field parser', () => {
  it('follows Honeycomb grammar precedence: ! then * / % then - then + then comparisons then = != then AND then OR', () => {
    expect(show(parseExpression('$a + $b * 2'))).toBe('SUM($a, MUL($b, 2))');
    expect(show(parseExpression('$a - $b - $c'))).toBe('SUB(SUB($a, $b), $c)');
    expect(show(parseExpression('$a + $b - $c'))).toBe('SUM($a, SUB($b, $c))');
    expect(show(parseExpression('$a < 1 = true'))).toBe('EQUALS(LT($a, 1), true)');
    expect(show(parseExpression('$a = 1 AND $b != 2 OR !$c'))).toBe('OR(AND(EQUALS($a, 1), NOT(EQUALS($b, 2))), NOT($c))');
    expect(show(parseExpression('!($a OR $b) AND $c'))).toBe('AND(NOT(OR($a, $b)), $c)');
    expect(show(parseExpression('($a + 1) * 2'))).toBe('MUL(SUM($a, 1), 2)');
  });

  it('chains of +, *, AND and OR are one call, so long chains stay shallow', () => {
    expect(show(parseExpression('1 + 2 + 3 + 4'))).toBe('SUM(1, 2, 3, 4)');
    expect(show(parseExpression('$a AND $b AND $c OR $d OR $e'))).toBe('OR(AND($a, $b, $c), $d, $e)');
    expect(show(parseExpression(Array.from({ length: 500 }, (_, i) => `$c${i}`).join(' + ')))).toMatch(/^SUM\(\$c0, \$c1, .*\$c499\)$/);
  });

  it('reads column names, literals and escapes as the grammar defines them', () => {
    expect(show(parseExpression('$a-1'))).toBe('$a-1'); // "-" is part of a bare column name
    expect(show(parseExpression('$http.status_code'))).toBe('$http.status_code');
    expect(show(parseExpression('$"Context Key Length"'))).toBe('$Context Key Length');
    expect(show(parseExpression('$`1st token`'))).toBe('$1st token');
    expect(show(parseExpression('$a - -3'))).toBe('SUB($a, -3)');
    expect(show(parseExpression('$a -3'))).toBe('SUB($a, 3)');
    expect(show(parseExpression('SUM(4e+2, .5, -4.82)'))).toBe('SUM(400, 0.5, -4.82)');
    expect(show(parseExpression('CONCAT("\\x41\\u00e9\\101\\n", `C:\\path`)'))).toBe(`CONCAT(${JSON.stringify('AéA\n')}, ${JSON.stringify('C:\\path')})`);
    expect(show(parseExpression('IF(true, null, false,)'))).toBe('IF(true, null, false)');
    expect(show(parseExpression('AND($a, OR($b, $c))'))).toBe('AND($a, OR($b, $c))');
  });

  it('errors name the 1-based position and what was expected', () => {
    expect(errorOf('IF($a, 1').message).toBe('WAGGLE_BACKEND_EXPRESSION_INVALID at position 9: expected "," or ")" in the arguments of IF, found the end of the expression');
    expect(errorOf('$a == 1').position).toBe(4);
    expect(errorOf('$a == 1').problem).toBe('use = for equality');
    expect(errorOf('$a && $b').problem).toBe('use AND / OR');
    expect(errorOf('duration_ms > 5').problem).toMatch(/unexpected word "duration_ms": columns start with \$/);
    expect(errorOf('(1 + 2').problem).toBe('expected ")" to close "(", found the end of the expression');
    expect(errorOf('"a\\qb"').problem).toMatch(/unknown escape \\q/);
    expect(errorOf('$').problem).toMatch(/expected a column name after \$/);
    expect(errorOf('   ').problem).toBe('the expression is empty');
  });
});

describe('calculated field compiler', () => {
  const text: QueryColumn = { key: 's', kind: 'any', sql: () => '"a_1"' };
  const scope = { column: () => text };

  it('binds a repeated complex argument once, so SQL grows linearly with nesting', () => {
    let src = '$s';
    for (let i = 0; i < 60; i++) src = `SUM(${src}, $s)`;
    const { sql, kind } = compileExpression(parseExpression(src), new Params(), scope);
    expect(kind).toBe('number');
    expect(sql.length).toBeLessThan(60 * 400);
  });

  it('puts every literal in a parameter, never in the SQL text', () => {
    const p = new Params();
    const { sql } = compileExpression(parseExpression('CONCAT("\'; DROP TABLE events; --", $s, 42)'), p, scope);
    expect(sql).not.toContain('DROP');
    expect(sql).not.toContain('42');
    expect(p.values).toEqual(["'; DROP TABLE events; --", 42]);
  });
});

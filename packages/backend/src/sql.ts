// The only place identifiers enter SQL text. Values never do: they are bound as parameters.

/** Quotes a DuckDB identifier: wraps it in double quotes and doubles embedded quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

// What a dataset's queries can name beyond the stored columns: calculated fields (Honeycomb's derived columns)
// and per-column settings set through the Columns API (hidden, description, type). Both are kept in DuckDB tables
// in the data directory and cached in memory, so resolving a query's names stays synchronous.
import { createHash, randomBytes } from 'node:crypto';
import { ExpressionError, parseExpression, type ExprNode } from './calculated-field-parser.js';
import { calculatedColumn, expressionPatterns } from './calculated-field-sql.js';
import { HttpError } from './http-util.js';
import type { ColumnInfo } from './internal-types.js';
import { declaredColumn, honeycombType, storedColumn, type HoneycombType, type QueryColumn } from './query-columns.js';
import { columnOf, inlineCalculatedFields, SpecError, validateSpec, type ColumnResolver, type InlineCalculatedField, type ValidSpec } from './spec.js';
import type { Store } from './store.js';

/** A calculated field in the Calculated Fields API's shape. */
export interface DerivedColumn {
  id: string;
  alias: string;
  expression: string;
  description: string;
  created_at: string;
  updated_at: string;
}

interface SavedDerived extends DerivedColumn {
  dataset: string;
  node: ExprNode;
}

/** A column in the Columns API's shape. */
export interface ColumnView {
  id: string;
  key_name: string;
  type: HoneycombType;
  hidden: boolean;
  description: string;
  last_written: string | null;
  created_at: string | null;
  updated_at: string | null;
}

interface ColumnSettings {
  dataset: string;
  key: string;
  hidden: boolean;
  description: string;
  /** Set through the Columns API: how the values are read. Undefined: as stored. */
  type: HoneycombType | undefined;
  created_at: string;
  updated_at: string;
}

const HONEYCOMB_TYPES: readonly HoneycombType[] = ['string', 'integer', 'float', 'boolean'];
/** Honeycomb's limits on names and descriptions. */
const MAX_NAME = 255;
const MAX_DESCRIPTION = 255;
/** Environment-wide calculated fields apply to every dataset. */
const ALL = '__all__';

const settingsKey = (dataset: string, key: string) => `${dataset}\u0000${key}`;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function text(body: Record<string, unknown>, field: string, max: number, required: boolean): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw new SpecError(field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || (required && v === '') || v.length > max) {
    throw new SpecError(field, `must be a string of ${required ? 1 : 0} to ${max} characters`);
  }
  return v;
}

/** Parses an expression, reporting problems against `field`. */
function parse(expression: string, field: string): ExprNode {
  try {
    return parseExpression(expression);
  } catch (error) {
    if (error instanceof ExpressionError) throw new SpecError(field, error.message);
    throw error;
  }
}

export class Schema {
  private loading: Promise<void> | undefined;
  private readonly derived = new Map<string, SavedDerived>();
  private readonly settings = new Map<string, ColumnSettings>();

  constructor(private readonly store: Store) {}

  /** Creates the tables if needed and reads them once; every method that reads the cache waits for it. */
  load(): Promise<void> {
    this.loading ??= this.read().catch((error: unknown) => {
      this.loading = undefined; // let the next request try again
      throw error;
    });
    return this.loading;
  }

  private async read(): Promise<void> {
    const conn = this.store.reader();
    await conn.run(`CREATE TABLE IF NOT EXISTS waggle_derived_columns (id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL,
      alias VARCHAR NOT NULL, expression VARCHAR NOT NULL, description VARCHAR NOT NULL, created_at VARCHAR NOT NULL,
      updated_at VARCHAR NOT NULL)`);
    await conn.run(`CREATE TABLE IF NOT EXISTS waggle_column_settings (dataset VARCHAR NOT NULL, key VARCHAR NOT NULL,
      hidden BOOLEAN NOT NULL, description VARCHAR NOT NULL, type VARCHAR, created_at VARCHAR NOT NULL,
      updated_at VARCHAR NOT NULL, PRIMARY KEY (dataset, key))`);
    for (const r of (await conn.runAndReadAll('SELECT * FROM waggle_derived_columns')).getRowObjectsJS()) {
      const d = r as unknown as Omit<SavedDerived, 'node'>;
      // Saved expressions parsed when they were saved; a future grammar change must not stop the backend.
      try {
        this.derived.set(d.id, { ...d, node: parseExpression(d.expression) });
      } catch (error) {
        process.emitWarning(`calculated field ${JSON.stringify(d.alias)} no longer parses and is ignored: ${(error as Error).message}`, {
          code: 'WAGGLE_BACKEND_EXPRESSION_INVALID',
        });
      }
    }
    for (const r of (await conn.runAndReadAll('SELECT * FROM waggle_column_settings')).getRowObjectsJS()) {
      const s = r as unknown as ColumnSettings & { type: HoneycombType | null };
      this.settings.set(settingsKey(s.dataset, s.key), { ...s, type: s.type ?? undefined });
    }
  }

  // ---- resolving names in queries ----

  /** The calculated fields a query on `dataset` sees: its own and the environment-wide ones. */
  private derivedFor(dataset: string, derived: Iterable<SavedDerived> = this.derived.values()): SavedDerived[] {
    return [...derived].filter((d) => d.dataset === dataset || d.dataset === ALL);
  }

  private storedFor(dataset: string): (name: string) => QueryColumn | undefined {
    return (name) => {
      const info = this.store.column(name);
      const s = this.settings.get(settingsKey(dataset, name));
      if (info) return storedColumn(info, s?.type);
      return s?.type ? declaredColumn(name, s.type) : undefined;
    };
  }

  /**
   * Names in a query on `dataset`, first match wins: the query's own calculated fields, saved calculated fields,
   * stored (or declared) columns. Calculated fields may use each other; a cycle is an error.
   */
  resolver(dataset: string, derived: SavedDerived[] = this.derivedFor(dataset)): ColumnResolver {
    const stored = this.storedFor(dataset);
    return (inline: InlineCalculatedField[]) => {
      const saved = new Map(derived.map((d) => [d.alias, d]));
      const own = new Map(inline.map((f, i) => [f.name, { node: parse(f.expression, `calculated_fields[${i}].expression`), field: `calculated_fields[${i}].expression` }]));
      const done = new Map<string, QueryColumn>();
      const visiting = new Set<string>();
      const resolve = (name: string): QueryColumn | undefined => {
        const cached = done.get(name);
        if (cached) return cached;
        const mine = own.get(name);
        const field = mine?.field ?? `calculated field ${JSON.stringify(name)}`;
        const node = mine?.node ?? saved.get(name)?.node;
        if (!node) return stored(name);
        visiting.add(name);
        try {
          const col = calculatedColumn(name, node, {
            column(ref, pos) {
              if (visiting.has(ref)) throw new ExpressionError(pos, `$${ref} refers back to ${JSON.stringify(name)}: calculated fields cannot use themselves`);
              const c = resolve(ref);
              if (!c) throw new ExpressionError(pos, `unknown column ${JSON.stringify(ref)}`);
              return c;
            },
          });
          done.set(name, col);
          return col;
        } catch (error) {
          if (error instanceof ExpressionError) throw new SpecError(field, error.message);
          throw error;
        } finally {
          visiting.delete(name);
        }
      };
      for (const f of inline) resolve(f.name);
      return (_field, name) => resolve(name);
    };
  }

  /** Validates a query spec for `dataset`, including its calculated fields' regular expressions (checked by DuckDB). */
  async validateQuery(dataset: string, body: unknown, nowSeconds = Date.now() / 1000): Promise<ValidSpec> {
    await this.load();
    const spec = validateSpec(body, this.resolver(dataset), nowSeconds);
    await this.checkInline(spec.raw as Record<string, unknown>);
    return spec;
  }

  /**
   * The columns a request's filters may name (BubbleUp's): the dataset's columns, its calculated fields and the
   * request's own `calculated_fields`.
   */
  async columnsFor(dataset: string, body: unknown): Promise<(field: string, v: unknown) => QueryColumn> {
    await this.load();
    const request = isObject(body) ? body : {};
    const lookup = columnOf(this.resolver(dataset)(inlineCalculatedFields(request)));
    await this.checkInline(request);
    return lookup;
  }

  private async checkInline(request: Record<string, unknown>): Promise<void> {
    for (const [i, f] of inlineCalculatedFields(request).entries()) {
      await this.checkPatterns(parseExpression(f.expression), `calculated_fields[${i}].expression`);
    }
  }

  /** RE2 is linear-time, so patterns are safe to run; DuckDB (RE2 too, like Honeycomb's Go) tells whether they compile. */
  private async checkPatterns(node: ExprNode, field: string): Promise<void> {
    for (const { pattern, pos } of expressionPatterns(node)) {
      try {
        await this.store.reader().run('SELECT regexp_matches(\'\', CAST($1 AS VARCHAR))', [pattern]);
      } catch (error) {
        const reason = (error as Error).message.split('\n')[0]!.replace(/^Invalid Input Error: /, '');
        throw new SpecError(field, new ExpressionError(pos, `invalid regular expression ${JSON.stringify(pattern)}: ${reason}`).message);
      }
    }
  }

  // ---- the Calculated Fields API ----

  async listDerived(dataset: string): Promise<DerivedColumn[]> {
    await this.load();
    return [...this.derived.values()].filter((d) => d.dataset === dataset).map(view);
  }

  async getDerived(dataset: string, id: string): Promise<DerivedColumn> {
    await this.load();
    const d = this.derived.get(id);
    if (!d || d.dataset !== dataset) throw new HttpError(404, `calculated field ${JSON.stringify(id)} not found`);
    return view(d);
  }

  async derivedByAlias(dataset: string, alias: string): Promise<DerivedColumn> {
    await this.load();
    const d = [...this.derived.values()].find((x) => x.dataset === dataset && x.alias === alias);
    if (!d) throw new HttpError(404, `calculated field ${JSON.stringify(alias)} not found`);
    return view(d);
  }

  /** Creates (no `id`) or replaces a calculated field after checking that it compiles against the dataset. */
  async saveDerived(dataset: string, body: unknown, id?: string): Promise<DerivedColumn> {
    await this.load();
    if (!isObject(body)) throw new SpecError('body', 'must be a JSON object with "alias" and "expression"');
    const previous = id === undefined ? undefined : this.derived.get(id);
    if (id !== undefined && (!previous || previous.dataset !== dataset)) throw new HttpError(404, `calculated field ${JSON.stringify(id)} not found`);
    const alias = text(body, 'alias', MAX_NAME, true)!;
    const expression = text(body, 'expression', 4095, true)!;
    const description = text(body, 'description', MAX_DESCRIPTION, false) ?? previous?.description ?? '';
    const clash = [...this.derived.values()].find((d) => d.dataset === dataset && d.alias === alias && d.id !== id);
    if (clash) throw new HttpError(409, `a calculated field named ${JSON.stringify(alias)} already exists (id ${clash.id})`);
    if (dataset !== ALL && this.store.columnsOf(dataset).some((c) => c.key === alias)) {
      throw new HttpError(409, `the dataset already has a column named ${JSON.stringify(alias)}; choose another alias`);
    }
    const node = parse(expression, 'expression');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const saved: SavedDerived = {
      id: id ?? randomBytes(6).toString('base64url'),
      dataset,
      alias,
      expression,
      description,
      created_at: previous?.created_at ?? now,
      updated_at: now,
      node,
    };
    // Compile it among the calculated fields it will live with (catches unknown columns and cycles through others).
    const others = [...this.derived.values()].filter((d) => d.id !== saved.id);
    const scope = dataset === ALL ? [...others.filter((d) => d.dataset === ALL), saved] : this.derivedFor(dataset, [...others, saved]);
    try {
      this.resolver(dataset, scope)([])('expression', alias);
      // Fields that use this one must still compile with it changed.
      if (previous) for (const d of scope) if (d.id !== saved.id) this.resolver(d.dataset === ALL ? dataset : d.dataset, scope)([])('expression', d.alias);
    } catch (error) {
      // Report the field's own problems against `expression`; a problem in a field that uses it keeps that field's name.
      const own = `calculated field ${JSON.stringify(alias)}`;
      if (error instanceof SpecError && error.field === own) throw new SpecError('expression', error.message.slice(own.length + 2));
      if (error instanceof SpecError) throw new SpecError('expression', error.message);
      throw error;
    }
    await this.checkPatterns(node, 'expression');
    await this.store
      .reader()
      .run('INSERT OR REPLACE INTO waggle_derived_columns VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        saved.id,
        dataset,
        alias,
        expression,
        description,
        saved.created_at,
        saved.updated_at,
      ]);
    this.derived.set(saved.id, saved);
    return view(saved);
  }

  async deleteDerived(dataset: string, id: string): Promise<void> {
    await this.getDerived(dataset, id);
    await this.store.reader().run('DELETE FROM waggle_derived_columns WHERE id = $1', [id]);
    this.derived.delete(id);
  }

  // ---- the Columns API ----

  private columnView(dataset: string, key: string, info: ColumnInfo | undefined): ColumnView {
    const s = this.settings.get(settingsKey(dataset, key));
    const written = this.store.datasets().find((d) => d.name === dataset)?.lastWritten;
    return {
      id: columnId(dataset, key),
      key_name: key,
      type: s?.type ?? (info ? honeycombType(info) : 'string'),
      hidden: s?.hidden ?? false,
      description: s?.description ?? '',
      last_written: info && written !== undefined ? new Date(written).toISOString() : null,
      created_at: s?.created_at ?? null,
      updated_at: s?.updated_at ?? null,
    };
  }

  /** The dataset's columns: the keys its events carry and the ones created through the API before any data. */
  async listColumns(dataset: string): Promise<ColumnView[]> {
    await this.load();
    const stored = new Map(this.store.columnsOf(dataset).map((c) => [c.key, c]));
    const views = [...stored].map(([key, info]) => this.columnView(dataset, key, info));
    for (const s of this.settings.values()) {
      if (s.dataset === dataset && !stored.has(s.key)) views.push(this.columnView(dataset, s.key, undefined));
    }
    return views;
  }

  async getColumn(dataset: string, by: { id?: string; key?: string }): Promise<ColumnView> {
    const c = (await this.listColumns(dataset)).find((v) => (by.id !== undefined ? v.id === by.id : v.key_name === by.key));
    if (!c) throw new HttpError(404, `column ${JSON.stringify(by.id ?? by.key)} not found`);
    return c;
  }

  /** Creates a column before any event carries it (Honeycomb's create), or updates one's settings. */
  async saveColumn(dataset: string, body: unknown, id?: string): Promise<ColumnView> {
    await this.load();
    if (!isObject(body)) throw new SpecError('body', 'must be a JSON object');
    let key: string;
    if (id === undefined) {
      key = text(body, 'key_name', MAX_NAME, true)!;
      if ((await this.listColumns(dataset)).some((c) => c.key_name === key)) throw new HttpError(409, `column ${JSON.stringify(key)} already exists`);
    } else {
      key = (await this.getColumn(dataset, { id })).key_name;
      const renamed = body.key_name;
      if (renamed !== undefined && renamed !== key) throw new SpecError('key_name', 'cannot be changed; create a new column instead');
    }
    const type = body.type;
    if (type !== undefined && type !== null && !HONEYCOMB_TYPES.includes(type as HoneycombType)) {
      throw new SpecError('type', `must be one of ${HONEYCOMB_TYPES.join(', ')}`);
    }
    if (body.hidden !== undefined && body.hidden !== null && typeof body.hidden !== 'boolean') throw new SpecError('hidden', 'must be true or false');
    const previous = this.settings.get(settingsKey(dataset, key));
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const s: ColumnSettings = {
      dataset,
      key,
      hidden: (body.hidden as boolean | undefined) ?? previous?.hidden ?? false,
      description: text(body, 'description', MAX_DESCRIPTION, false) ?? previous?.description ?? '',
      // A created column needs a type to exist without data; Honeycomb's default is string.
      type: (type as HoneycombType | undefined) ?? previous?.type ?? (id === undefined ? 'string' : undefined),
      created_at: previous?.created_at ?? now,
      updated_at: now,
    };
    await this.store
      .reader()
      .run('INSERT OR REPLACE INTO waggle_column_settings VALUES ($1, $2, $3, $4, $5, $6, $7)', [
        dataset,
        key,
        s.hidden,
        s.description,
        s.type ?? null,
        s.created_at,
        s.updated_at,
      ]);
    this.settings.set(settingsKey(dataset, key), s);
    return this.getColumn(dataset, { key });
  }

  /** Deletes a column and its values in the dataset, as Honeycomb does. The fixed trace columns cannot be deleted. */
  async deleteColumn(dataset: string, id: string): Promise<void> {
    const { key_name: key } = await this.getColumn(dataset, { id });
    const info = this.store.column(key);
    if (info?.pinned) throw new HttpError(409, `${JSON.stringify(key)} is one of the trace columns Waggle keeps for every span; it cannot be deleted`);
    if (info) await this.store.deleteDatasetColumn(dataset, key);
    await this.store.reader().run('DELETE FROM waggle_column_settings WHERE dataset = $1 AND key = $2', [dataset, key]);
    this.settings.delete(settingsKey(dataset, key));
  }
}

function view(d: SavedDerived): DerivedColumn {
  return { id: d.id, alias: d.alias, expression: d.expression, description: d.description, created_at: d.created_at, updated_at: d.updated_at };
}

/** A column's id: stable for a dataset and key, whether or not events carry it yet. */
function columnId(dataset: string, key: string): string {
  return createHash('sha256').update(settingsKey(dataset, key)).digest('base64url').slice(0, 12);
}

import duckdb from '@duckdb/node-bindings';
import type { AnyValue } from '@waggle/otlp';
import type { ColumnType } from './internal-types.js';

/** A value as a column holds it, before coercion to the column's type. */
export type Scalar = string | number | boolean;

const KIND_STRING = 1;
const KIND_NUMBER = 2;
const KIND_BOOLEAN = 4;

/** The one kind of value a column of each type holds without coercion. */
const NATURAL_KIND: Record<ColumnType, number> = { VARCHAR: KIND_STRING, DOUBLE: KIND_NUMBER, BOOLEAN: KIND_BOOLEAN };

/**
 * One key's values in one request: the rows that have it (ascending) and their values, plus what a commit's type
 * decision and the chunk writer need to know. Kept compact, since most keys are in every row and many (resource
 * attributes) have one value throughout: arrays appear only once rows skip or values differ.
 */
export class PendingColumn {
  /** Values added (a later value for the same row replaces the row's value). */
  count = 0;
  /** The first value; while every value is this one no array holds them, and the column is one constant. */
  value0: Scalar = '';
  /** The values, once one differs from the first. */
  list: Scalar[] | undefined = undefined;
  /** The row of the first value. */
  first = 0;
  /** The row of each value, once they are not consecutive from `first` (most keys are in every row: no array). */
  sparse: number[] | undefined = undefined;
  /** KIND_* bits of the values seen. */
  kinds = 0;
  /** Strings that do not read as the numbers/booleans a typed column needs. */
  hasNonNumericString = false;
  hasNonBooleanString = false;
  /** The dataset this key was last looked up for in the dataset catalog (events come in runs of one dataset). */
  checkedDataset: string | undefined;
  /** In a request's columns ({@link EventColumns}): the datasets of the rows that have a value. */
  readonly datasets: string[] = [];

  /** Every value is the first one, so with a value in every row the column is one constant. */
  get same(): boolean {
    return this.list === undefined;
  }

  /** The rows that have a value, ascending. */
  get rows(): number[] {
    return this.sparse ?? Array.from({ length: this.count }, (_, i) => this.first + i);
  }

  get values(): Scalar[] {
    return this.list ?? Array.from({ length: this.count }, () => this.value0);
  }

  /** Sets the value of `row`, which is the last row added or a later one (a later value for the same row wins). */
  add(row: number, v: Scalar): void {
    const n = this.count;
    if (n === 0) {
      this.first = row;
      this.value0 = v;
      this.count = 1;
    } else {
      const sparse = this.sparse;
      const list = this.list;
      const lastRow = sparse === undefined ? this.first + n - 1 : sparse[n - 1]!;
      if (lastRow === row) {
        if (list !== undefined) list[n - 1] = v;
        else if (v !== this.value0) {
          if (n === 1) this.value0 = v;
          else this.materialize()[n - 1] = v;
        }
      } else {
        if (sparse !== undefined) sparse.push(row);
        else if (row !== lastRow + 1) (this.sparse = this.rows).push(row);
        if (list !== undefined) list.push(v);
        else if (v !== this.value0) this.materialize().push(v);
        this.count = n + 1;
      }
    }
    switch (typeof v) {
      case 'string':
        this.kinds |= KIND_STRING;
        if (!this.hasNonNumericString && !isNumericString(v)) this.hasNonNumericString = true;
        if (!this.hasNonBooleanString && v !== 'true' && v !== 'false') this.hasNonBooleanString = true;
        break;
      case 'number':
        this.kinds |= KIND_NUMBER;
        break;
      default:
        this.kinds |= KIND_BOOLEAN;
    }
  }

  private materialize(): Scalar[] {
    return (this.list = this.values);
  }

  /** {@link add} in a request's columns, noting the row's dataset. */
  addIn(row: number, v: Scalar, dataset: string): void {
    this.add(row, v);
    if (dataset !== this.checkedDataset) {
      this.checkedDataset = dataset;
      if (!this.datasets.includes(dataset)) this.datasets.push(dataset);
    }
  }

  /**
   * The type a column must have to hold these values. Type rule (documented in the README): a key's first type
   * wins; numeric strings fit a DOUBLE column and "true"/"false" a BOOLEAN one; anything else that does not fit
   * widens the column to VARCHAR for good.
   */
  typeFor(current: ColumnType | undefined): ColumnType {
    return typeFor(this, current);
  }
}

/**
 * One key's values across a commit: the columns of the requests it takes (segments, each a {@link PendingColumn}
 * whose rows are shifted by its offset), referenced rather than copied, plus the same summary as a PendingColumn's.
 */
export class CommitColumn {
  readonly segments: PendingColumn[] = [];
  readonly offsets: number[] = [];
  /** Values in all segments. */
  count = 0;
  kinds = 0;
  hasNonNumericString = false;
  hasNonBooleanString = false;
  same = true;
  checkedDataset: string | undefined;
  /** Where the chunk writer is: segment, then index in it. */
  segment = 0;
  index = 0;

  /** Appends a request's column, its rows shifted by `offset` past this column's last row. */
  append(src: PendingColumn, offset: number): void {
    const n = src.count;
    if (n === 0) return;
    if (this.count === 0) this.same = src.same;
    else if (!src.same || src.value0 !== this.segments[0]!.value0) this.same = false;
    this.segments.push(src);
    this.offsets.push(offset);
    this.count += n;
    this.kinds |= src.kinds;
    if (src.hasNonNumericString) this.hasNonNumericString = true;
    if (src.hasNonBooleanString) this.hasNonBooleanString = true;
  }

  /** The first value (the one value of a column whose values are all the same). */
  first(): Scalar {
    return this.segments[0]!.value0;
  }

  typeFor(current: ColumnType | undefined): ColumnType {
    return typeFor(this, current);
  }

  /** Calls `fn` with every (row, value), rows ascending. */
  forEach(fn: (row: number, v: Scalar) => void): void {
    for (let s = 0; s < this.segments.length; s++) {
      const { sparse, first, list, value0, count } = this.segments[s]!;
      const offset = this.offsets[s]!;
      for (let c = 0; c < count; c++) fn((sparse === undefined ? first + c : sparse[c]!) + offset, list === undefined ? value0 : list[c]!);
    }
  }
}

interface ColumnSummary {
  kinds: number;
  hasNonNumericString: boolean;
  hasNonBooleanString: boolean;
}

function typeFor(col: ColumnSummary, current: ColumnType | undefined): ColumnType {
  const k = col.kinds;
  if (current === 'VARCHAR') return 'VARCHAR';
  if (current === 'DOUBLE') {
    if (k & KIND_BOOLEAN || (k & KIND_STRING && col.hasNonNumericString)) return 'VARCHAR';
    return 'DOUBLE';
  }
  if (current === 'BOOLEAN') {
    if (k & KIND_NUMBER || (k & KIND_STRING && col.hasNonBooleanString)) return 'VARCHAR';
    return 'BOOLEAN';
  }
  if (k === KIND_NUMBER) return 'DOUBLE';
  if (k === KIND_BOOLEAN) return 'BOOLEAN';
  return 'VARCHAR';
}

function isNumericString(s: string): boolean {
  if (s.trim() === '') return false;
  return Number.isFinite(Number(s));
}

export function coerce(v: Scalar, type: ColumnType): Scalar | null {
  switch (type) {
    case 'VARCHAR':
      return typeof v === 'string' ? v : String(v);
    case 'DOUBLE':
      if (typeof v === 'number') return v;
      if (typeof v === 'string' && isNumericString(v)) return Number(v);
      return null;
    case 'BOOLEAN':
      if (typeof v === 'boolean') return v;
      if (v === 'true') return true;
      if (v === 'false') return false;
      return null;
  }
}

export function constantValue(v: Scalar | null, type: ColumnType): duckdb.Value {
  if (v === null) return duckdb.create_null_value();
  if (type === 'VARCHAR') return duckdb.create_varchar(v as string);
  if (type === 'DOUBLE') return duckdb.create_double(v as number);
  return duckdb.create_bool(v as boolean);
}

/** Size of DuckDB's string_t: a 4-byte length, then 12 inline bytes, or a 4-byte prefix and a pointer. */
const STRING_SLOT = 16;
const INLINE_BYTES = 12;

/**
 * Holds the bytes that out-of-line strings of one data chunk point to, inside DuckDB-owned string vectors, so
 * a whole column's long strings cost one call into the addon instead of one each. Keep it referenced until the
 * data chunk has been appended: the appender copies the strings into its own storage then.
 */
export class StringArena {
  private readonly type = duckdb.create_logical_type(duckdb.Type.VARCHAR);
  private readonly held: duckdb.DataChunk[] = [];
  private vector: duckdb.Vector | undefined;
  private used = CHUNK_CAPACITY;

  /** Copies `bytes` (more than 12 of them) into DuckDB memory; returns its address as [low, high] 32-bit words. */
  hold(bytes: Uint8Array): [number, number] {
    if (this.used === CHUNK_CAPACITY) {
      const chunk = duckdb.create_data_chunk([this.type]);
      this.held.push(chunk);
      this.vector = duckdb.data_chunk_get_vector(chunk, 0);
      this.used = 0;
    }
    const at = this.used++;
    duckdb.vector_assign_string_element_len(this.vector!, at, bytes);
    const slots = duckdb.vector_get_data(this.vector!, (at + 1) * STRING_SLOT);
    const view = new DataView(slots.buffer, slots.byteOffset + at * STRING_SLOT, STRING_SLOT);
    return [view.getUint32(8, true), view.getUint32(12, true)];
  }

  /** Lets DuckDB free the held bytes (once the chunks pointing to them are appended). */
  release(): void {
    this.held.length = 0;
    this.vector = undefined;
    this.used = CHUNK_CAPACITY;
  }
}

/** Rows per DuckDB vector. */
const CHUNK_CAPACITY = 2048;

// One vector's data, validity and string slots are built here, then copied into DuckDB: reused, since allocating
// them per vector (tens of MB per commit, outside the JS heap) made V8 run full collections to account for it.
const scratchValidity = new Uint32Array((CHUNK_CAPACITY / 64) * 2);
const scratchSlots = new Uint8Array(CHUNK_CAPACITY * STRING_SLOT);
const scratchDoubles = new Float64Array(CHUNK_CAPACITY);
const scratchBools = new Uint8Array(CHUNK_CAPACITY);

/**
 * Fills one vector of a data chunk with rows `start` .. `start + rows` of a column, straight through the C API:
 * values are written into typed arrays and copied in once, with a validity mask when rows lack a value. The caller
 * turns columns that are one value in every row into constant vectors before calling this.
 */
export function writeVector(
  vector: duckdb.Vector,
  type: ColumnType,
  col: CommitColumn,
  start: number,
  rows: number,
  arena: StringArena,
): void {
  const natural = col.kinds === NATURAL_KIND[type];
  const segments = col.segments;
  let segment = col.segment;
  let index = col.index;
  // DuckDB's validity mask is 64-bit words, least significant bit first; on little-endian machines that is the
  // same bytes as 32-bit words, which avoid a BigInt per value.
  const validity = scratchValidity.subarray(0, Math.ceil(rows / 64) * 2).fill(0);
  let present = 0;
  const slots = type === 'VARCHAR' ? scratchSlots.subarray(0, rows * STRING_SLOT).fill(0) : undefined;
  const doubles = type === 'DOUBLE' ? scratchDoubles.subarray(0, rows).fill(0) : undefined;
  const bools = type === 'BOOLEAN' ? scratchBools.subarray(0, rows).fill(0) : undefined;
  let longRows: number[] | undefined;
  let longValues: string[] | undefined;
  for (; segment < segments.length; segment++, index = 0) {
    const { sparse, list, value0, count } = segments[segment]!;
    const offset = col.offsets[segment]! - start;
    const dense = segments[segment]!.first + offset;
    for (; index < count; index++) {
      const r = sparse === undefined ? dense + index : sparse[index]! + offset;
      if (r >= rows) break;
      const raw = list === undefined ? value0 : list[index]!;
      const v = natural ? raw : coerce(raw, type);
      if (v === null) continue;
      if (slots !== undefined) {
        if (!inlineAscii(slots, r * STRING_SLOT, v as string)) {
          (longRows ??= []).push(r);
          (longValues ??= []).push(v as string);
        }
      } else if (doubles !== undefined) doubles[r] = v as number;
      else bools![r] = v ? 1 : 0;
      validity[r >>> 5]! |= 1 << (r & 31);
      present++;
    }
    if (index < count) break;
  }
  if (longRows) writeLongStrings(slots!, longRows, longValues!, arena);
  const data = slots ?? doubles ?? bools!;
  col.segment = segment;
  col.index = index;
  if (present === 0) {
    duckdb.vector_reference_value(vector, duckdb.create_null_value());
    return;
  }
  duckdb.copy_data_to_vector(vector, 0, data.buffer, 0, data.byteLength);
  if (present < rows) {
    duckdb.vector_ensure_validity_writable(vector);
    duckdb.copy_data_to_vector_validity(vector, 0, validity.buffer, 0, validity.byteLength);
  }
}

/**
 * Writes `v` as an inlined string_t (little-endian length, then the bytes, zero-padded) if it is ASCII and at most
 * 12 bytes; returns false (slot left zero) otherwise.
 */
function inlineAscii(slots: Uint8Array, at: number, v: string): boolean {
  const n = v.length;
  if (n > INLINE_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 0x80) {
      slots.fill(0, at + 4, at + 4 + i);
      return false;
    }
    slots[at + 4 + i] = c;
  }
  slots[at] = n;
  return true;
}

/**
 * Writes the strings that are not short ASCII: their UTF-8 bytes go into one arena block, and each slot gets its
 * length, 4-byte prefix and a pointer into the block (or the bytes inline when they fit in 12).
 */
function writeLongStrings(slots: Uint8Array, longRows: number[], parts: string[], arena: StringArena): void {
  // A value ending in half a surrogate pair beside one starting with the other half would join into one character and
  // shift every offset after it (DuckDB then refuses the commit: invalid UTF-8): lone halves become U+FFFD first, as
  // encoding each value alone would make them.
  for (let p = 0; p < parts.length; p++) parts[p] = wellFormed(parts[p]!);
  const joined = parts.join('');
  const bytes = Buffer.from(joined, 'utf8');
  const ascii = bytes.length === joined.length;
  // Only bytes that do not fit inline need to live in DuckDB memory (then there are more than 12).
  let base: [number, number] | undefined;
  const words = new Uint32Array(slots.buffer, slots.byteOffset, slots.byteLength >>> 2);
  let offset = 0;
  for (let p = 0; p < parts.length; p++) {
    const s = parts[p]!;
    const length = ascii ? s.length : Buffer.byteLength(s, 'utf8');
    const at = longRows[p]! * STRING_SLOT;
    words[at >>> 2] = length;
    if (length <= INLINE_BYTES) {
      slots.set(bytes.subarray(offset, offset + length), at + 4);
    } else {
      base ??= arena.hold(bytes);
      slots[at + 4] = bytes[offset]!;
      slots[at + 5] = bytes[offset + 1]!;
      slots[at + 6] = bytes[offset + 2]!;
      slots[at + 7] = bytes[offset + 3]!;
      const low = base[0] + offset;
      words[(at >>> 2) + 2] = low >>> 0;
      words[(at >>> 2) + 3] = base[1] + (low >= 0x1_0000_0000 ? 1 : 0);
    }
    offset += length;
  }
}

/** `s` with lone UTF-16 surrogates replaced by U+FFFD (what its UTF-8 encoding, and so DuckDB, makes of them). */
export function wellFormed(s: string): string {
  const str = s as string & { isWellFormed(): boolean; toWellFormed(): string };
  return str.isWellFormed() ? s : str.toWellFormed();
}

/** Flattens a value to what a column can hold: arrays and maps become JSON, bytes base64. */
export function toScalar(v: AnyValue): Scalar {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'bigint':
      return Number(v);
    default:
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      return JSON.stringify(v, (_k, x: unknown) =>
        x instanceof Uint8Array ? Buffer.from(x).toString('base64') : typeof x === 'bigint' ? Number(x) : x,
      );
  }
}

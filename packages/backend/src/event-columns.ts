import type { AnyValue } from '@waggle/otlp';
import { PendingColumn, toScalar, wellFormed, type Scalar } from './column-batch.js';
import type { IngestEvent } from './internal-types.js';

/**
 * One request's events as columns: per row its time, sample rate and dataset, per key the rows that have it and
 * their values. Built when the request arrives (decoded straight from OTLP protobuf, or from IngestEvents), so a
 * commit concatenates a few columns per request instead of walking every event's fields.
 */
export class EventColumns {
  length = 0;
  readonly times: number[] = [];
  readonly rates: number[] = [];
  readonly datasets: string[] = [];
  /** Key → column, in the order keys were first seen. */
  readonly columns = new Map<string, PendingColumn>();
  /** Shared field objects (resource and scope attributes) → their columns and values, resolved once. */
  private readonly sharedEntries = new Map<object, SharedEntries>();

  /** Starts a row; the caller then adds its values (shared ones first: a later value for the same key wins). */
  row(time: number, dataset: string, sampleRate: number): number {
    const row = this.length++;
    this.times.push(time);
    this.rates.push(sampleRate);
    this.datasets.push(dataset);
    return row;
  }

  column(key: string): PendingColumn {
    // Keys from JSON may hold lone surrogates; two such keys are one key once stored (as UTF-8), so they are one here.
    key = wellFormed(key);
    let p = this.columns.get(key);
    if (p === undefined) this.columns.set(key, (p = new PendingColumn()));
    return p;
  }

  /** The columns and values of a shared field object (keys without a value left out). */
  shared(fields: Record<string, AnyValue>): SharedEntries {
    let entries = this.sharedEntries.get(fields);
    if (entries === undefined) {
      entries = { columns: [], values: [] };
      for (const key in fields) {
        const raw = fields[key];
        if (raw === undefined || raw === null) continue;
        entries.columns.push(this.column(key));
        entries.values.push(toScalar(raw));
      }
      this.sharedEntries.set(fields, entries);
    }
    return entries;
  }

  /** Adds one event: its shared fields, then its own (which win over shared ones of the same key). */
  add(ev: IngestEvent): void {
    const dataset = ev.dataset;
    const row = this.row(ev.time, dataset, ev.sampleRate);
    if (ev.shared) addShared(this.shared(ev.shared), row, dataset);
    const fields = ev.fields;
    for (const key in fields) {
      const raw = fields[key];
      if (raw === undefined || raw === null) continue;
      this.column(key).addIn(row, typeof raw === 'string' ? raw : toScalar(raw), dataset);
    }
  }

  static of(events: IngestEvent[]): EventColumns {
    const cols = new EventColumns();
    for (const ev of events) cols.add(ev);
    return cols;
  }
}

export interface SharedEntries {
  columns: PendingColumn[];
  values: Scalar[];
}

export function addShared(entries: SharedEntries, row: number, dataset: string): void {
  const { columns, values } = entries;
  for (let i = 0; i < columns.length; i++) columns[i]!.addIn(row, values[i]!, dataset);
}

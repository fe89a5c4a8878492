// Honeycomb's Triggers API (`/1/triggers/:dataset`): definitions in Honeycomb's documented shape, validated as
// Honeycomb validates them, kept in the `waggle_triggers` table of the data directory. Evaluation is in trigger-runner.ts.
import { randomBytes } from 'node:crypto';
import { datasetSlug } from './dataset-names.js';
import { HttpError, newId } from './http-util.js';
import { SavedQueries } from './saved-queries.js';
import type { Schema } from './schema.js';
import { SpecError, type ValidSpec } from './spec.js';
import type { Store } from './store.js';
import type { QuerySpec } from './types.js';

export type ThresholdOp = '>' | '>=' | '<' | '<=';
export type AlertType = 'on_change' | 'on_true';

export interface TriggerThreshold {
  op: ThresholdOp;
  value: number;
  /** Consecutive evaluations that must meet the threshold before the trigger fires (1-5). */
  exceeded_limit: number;
}

export interface TriggerRecipient {
  id: string;
  /** email, marker, msteams, msteams_workflow, pagerduty, slack or webhook. */
  type: string;
  target?: string;
  details?: Record<string, unknown>;
}

export interface EvaluationWindow {
  days_of_week: string[];
  /** UTC, `HH:mm`. */
  start_time: string;
  end_time: string;
}

/** A trigger in the Triggers API's response shape. */
export interface Trigger {
  id: string;
  dataset_slug: string;
  name: string;
  description: string;
  tags: Array<{ key: string; value: string }>;
  threshold: TriggerThreshold;
  /** Seconds between evaluations: a multiple of 60 from 60 to 86400. */
  frequency: number;
  alert_type: AlertType;
  disabled: boolean;
  /** Whether the trigger's condition held at its last evaluation (read-only). */
  triggered: boolean;
  recipients: TriggerRecipient[];
  evaluation_schedule_type: 'frequency' | 'window';
  evaluation_schedule?: { window: EvaluationWindow };
  created_at: string;
  updated_at: string;
  query: QuerySpec;
  query_id: string;
}

/** Honeycomb's limits (Triggers API reference and its Terraform provider's documentation). */
const MAX_NAME = 120;
const MAX_DESCRIPTION = 1023;
const DEFAULT_FREQUENCY = 900;
const MAX_FREQUENCY = 86_400;
const MAX_TIME_RANGE = 86_400;
const DEFAULT_TIME_RANGE = 7200;
const THRESHOLD_OPS: readonly string[] = ['>', '>=', '<', '<='];
const RECIPIENT_TYPES: readonly string[] = ['email', 'marker', 'msteams', 'msteams_workflow', 'pagerduty', 'slack', 'webhook'];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** A trigger query is a strict subset of a query spec. */
const QUERY_FIELDS = new Set(['calculations', 'filters', 'filter_combination', 'breakdowns', 'time_range', 'calculated_fields']);
/** Calculations a threshold cannot sensibly watch (Honeycomb refuses them in triggers). */
const UNSUPPORTED_OPS = new Set(['HEATMAP', 'CONCURRENCY', 'RATE_AVG', 'RATE_SUM', 'RATE_MAX']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(b: Record<string, unknown>, field: string, max: number): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw new SpecError(field, `must be a string of at most ${max} characters`);
  return v;
}

function hhmm(v: unknown, field: string): string {
  if (typeof v !== 'string' || !/^([01]\d|2[0-3]):[0-5]\d$/.test(v)) throw new SpecError(field, 'must be a UTC time as HH:mm, e.g. "14:00"');
  return v;
}

/** The trigger query's own rules, before it is validated as a query of the dataset. */
function checkTriggerQuery(query: Record<string, unknown>, frequency: number): QuerySpec {
  for (const key of Object.keys(query)) {
    if (!QUERY_FIELDS.has(key)) throw new SpecError(`query.${key}`, `is not allowed in a trigger query (allowed: ${[...QUERY_FIELDS].join(', ')})`);
  }
  const calcs = query.calculations;
  if (!Array.isArray(calcs) || calcs.length !== 1) throw new SpecError('query.calculations', 'a trigger query has exactly one calculation');
  const op = isObject(calcs[0]) ? calcs[0].op : undefined;
  if (typeof op === 'string' && UNSUPPORTED_OPS.has(op)) throw new SpecError('query.calculations[0].op', `${op} cannot be used in a trigger`);
  const range = query.time_range ?? DEFAULT_TIME_RANGE;
  if (typeof range !== 'number' || !Number.isInteger(range) || range <= 0 || range > MAX_TIME_RANGE) {
    throw new SpecError('query.time_range', `must be a whole number of seconds from 1 to ${MAX_TIME_RANGE}`);
  }
  if (range > frequency * 4) {
    throw new SpecError(
      'query.time_range',
      `${range} s${query.time_range === undefined ? ' (the default)' : ''} is more than 4 × frequency (${frequency} s); set a shorter time_range or a larger frequency`,
    );
  }
  return { ...(query as QuerySpec), time_range: range };
}

function threshold(v: unknown): TriggerThreshold {
  if (!isObject(v)) throw new SpecError('threshold', 'must be an object with "op" and "value"');
  if (typeof v.op !== 'string' || !THRESHOLD_OPS.includes(v.op)) throw new SpecError('threshold.op', `must be one of ${THRESHOLD_OPS.join(' ')}`);
  if (typeof v.value !== 'number' || !Number.isFinite(v.value)) throw new SpecError('threshold.value', 'must be a number');
  const limit = v.exceeded_limit ?? 1;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 5) {
    throw new SpecError('threshold.exceeded_limit', 'must be a whole number from 1 to 5');
  }
  return { op: v.op as ThresholdOp, value: v.value, exceeded_limit: limit };
}

function frequencyOf(v: unknown): number {
  if (v === undefined || v === null) return DEFAULT_FREQUENCY;
  if (typeof v !== 'number' || !Number.isInteger(v) || v % 60 !== 0 || v < 60 || v > MAX_FREQUENCY) {
    throw new SpecError('frequency', `must be a number of seconds divisible by 60, from 60 to ${MAX_FREQUENCY}`);
  }
  return v;
}

/** A webhook's URL: an http(s) `target`, or `details.webhook_url` as Honeycomb's Recipients API stores it. */
export function webhookUrl(r: Pick<TriggerRecipient, 'target' | 'details'>): string | undefined {
  const raw = typeof r.details?.webhook_url === 'string' ? r.details.webhook_url : r.target;
  return raw !== undefined && /^https?:\/\//i.test(raw) ? raw : undefined;
}

function tags(v: unknown): Trigger['tags'] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 10) throw new SpecError('tags', 'must be an array of at most 10 {key, value} objects');
  return v.map((t, i) => {
    if (!isObject(t) || typeof t.key !== 'string' || typeof t.value !== 'string' || !/^[a-z]{1,32}$/.test(t.key) || t.value.length > 128) {
      throw new SpecError(`tags[${i}]`, 'must be {key, value}: key 1-32 lowercase letters, value up to 128 characters');
    }
    return { key: t.key, value: t.value };
  });
}

function schedule(b: Record<string, unknown>): Pick<Trigger, 'evaluation_schedule_type' | 'evaluation_schedule'> {
  const type = b.evaluation_schedule_type ?? (b.evaluation_schedule ? 'window' : 'frequency');
  if (type === 'frequency') return { evaluation_schedule_type: 'frequency' };
  if (type !== 'window') throw new SpecError('evaluation_schedule_type', 'must be "frequency" or "window"');
  const w = isObject(b.evaluation_schedule) ? b.evaluation_schedule.window : undefined;
  if (!isObject(w)) throw new SpecError('evaluation_schedule.window', 'is required when evaluation_schedule_type is "window"');
  const days = w.days_of_week;
  if (!Array.isArray(days) || days.length === 0 || days.some((d) => typeof d !== 'string' || !DAYS.includes(d))) {
    throw new SpecError('evaluation_schedule.window.days_of_week', `must list days among ${DAYS.join(', ')}`);
  }
  const window: EvaluationWindow = {
    days_of_week: [...new Set(days as string[])],
    start_time: hhmm(w.start_time, 'evaluation_schedule.window.start_time'),
    end_time: hhmm(w.end_time, 'evaluation_schedule.window.end_time'),
  };
  return { evaluation_schedule_type: 'window', evaluation_schedule: { window } };
}

const minutesOfDay = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3));

/** Whether a trigger's evaluation schedule lets it run at `now` (UTC; a window ending before it starts wraps midnight). */
export function inSchedule(t: Pick<Trigger, 'evaluation_schedule_type' | 'evaluation_schedule'>, now: Date): boolean {
  const w = t.evaluation_schedule?.window;
  if (t.evaluation_schedule_type !== 'window' || !w) return true;
  const m = now.getUTCHours() * 60 + now.getUTCMinutes();
  const [start, end] = [minutesOfDay(w.start_time), minutesOfDay(w.end_time)];
  const today = DAYS[now.getUTCDay()]!;
  const yesterday = DAYS[(now.getUTCDay() + 6) % 7]!;
  if (start <= end) return w.days_of_week.includes(today) && m >= start && m < end;
  return (w.days_of_week.includes(today) && m >= start) || (w.days_of_week.includes(yesterday) && m < end);
}

/** A trigger with its query resolved for evaluation. */
export interface StoredTrigger {
  trigger: Trigger;
  spec: ValidSpec;
}

/**
 * The triggers of every dataset: Honeycomb's create/list/get/update/delete semantics, persisted in DuckDB and cached in
 * memory. `onChange` tells the runner (which keeps each trigger's evaluation state) about saves and deletes.
 */
export class TriggerStore {
  readonly #triggers = new Map<string, Trigger>();
  /** Each trigger's dataset as the store names it (its display name; the API shows the slug). */
  readonly #datasets = new Map<string, string>();
  #loading: Promise<void> | undefined;
  onChange: (id: string, trigger: Trigger | undefined) => void = () => {};

  constructor(
    private readonly store: Store,
    private readonly schema: Schema,
  ) {}

  /** Creates the table if needed and reads it once. */
  load(): Promise<void> {
    this.#loading ??= this.#read().catch((error: unknown) => {
      this.#loading = undefined;
      throw error;
    });
    return this.#loading;
  }

  async #read(): Promise<void> {
    const conn = this.store.reader();
    await conn.run('CREATE TABLE IF NOT EXISTS waggle_triggers (id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, definition VARCHAR NOT NULL)');
    for (const row of (await conn.runAndReadAll('SELECT dataset, definition FROM waggle_triggers')).getRowObjectsJS()) {
      const t = JSON.parse(String(row.definition)) as Trigger;
      this.#triggers.set(t.id, t);
      this.#datasets.set(t.id, String(row.dataset));
    }
  }

  async all(): Promise<Trigger[]> {
    await this.load();
    return [...this.#triggers.values()];
  }

  /** The triggers of one dataset (`__all__`: the environment-wide ones, as Honeycomb lists them). */
  async list(dataset: string): Promise<Trigger[]> {
    return (await this.all()).filter((t) => this.#datasets.get(t.id) === dataset);
  }

  async get(dataset: string, id: string): Promise<Trigger> {
    await this.load();
    const t = this.#triggers.get(id);
    if (!t || this.#datasets.get(id) !== dataset) throw new HttpError(404, `trigger ${JSON.stringify(id)} not found in dataset ${JSON.stringify(dataset)}`);
    return t;
  }

  /** The query a trigger runs, validated against the dataset's columns as they are now. */
  async resolve(t: Trigger, windowSeconds: number, nowSeconds: number): Promise<ValidSpec> {
    return this.#validateQuery(this.datasetOf(t), { ...t.query, time_range: windowSeconds }, nowSeconds);
  }

  /** The dataset a trigger watches, as queries name it. */
  datasetOf(t: Trigger): string {
    return this.#datasets.get(t.id) ?? t.dataset_slug;
  }

  async #validateQuery(dataset: string, query: QuerySpec, nowSeconds = Date.now() / 1000): Promise<ValidSpec> {
    try {
      return await this.schema.validateQuery(dataset, query, nowSeconds);
    } catch (error) {
      if (error instanceof SpecError && !error.field.startsWith('query')) throw new SpecError(`query.${error.field}`, error.message.slice(error.field.length + 2));
      throw error;
    }
  }

  /**
   * Creates (no `id`) or replaces a trigger from a request body. As in Honeycomb, an update sets omitted optional
   * fields to their defaults, except `disabled`, which keeps its value when omitted.
   */
  async save(dataset: string, body: unknown, id?: string): Promise<Trigger> {
    const previous = id === undefined ? undefined : await this.get(dataset, id);
    if (!isObject(body)) throw new SpecError('body', 'must be a JSON object');
    const name = optionalString(body, 'name', MAX_NAME);
    if (!name) throw new SpecError('name', `is required: 1 to ${MAX_NAME} characters`);
    if (body.baseline_details !== undefined && body.baseline_details !== null) {
      throw new SpecError('baseline_details', 'relative (baseline) thresholds are not supported by the Waggle backend');
    }
    const frequency = frequencyOf(body.frequency);
    const { query, queryId } = await this.#query(dataset, body, frequency);
    const alertType = body.alert_type ?? 'on_change';
    if (alertType !== 'on_change' && alertType !== 'on_true') throw new SpecError('alert_type', 'must be "on_change" or "on_true"');
    const disabled = body.disabled ?? previous?.disabled ?? false;
    if (typeof disabled !== 'boolean') throw new SpecError('disabled', 'must be true or false');
    const now = new Date().toISOString();
    const trigger: Trigger = {
      id: id ?? randomBytes(8).toString('base64url').slice(0, 11),
      dataset_slug: datasetSlug(dataset),
      name,
      description: optionalString(body, 'description', MAX_DESCRIPTION) ?? '',
      tags: tags(body.tags),
      threshold: threshold(body.threshold),
      frequency,
      alert_type: alertType,
      disabled,
      // Disabling a trigger clears its state; any other update keeps it until the next evaluation says otherwise.
      triggered: disabled ? false : (previous?.triggered ?? false),
      recipients: await this.#recipients(body.recipients),
      ...schedule(body),
      created_at: previous?.created_at ?? now,
      updated_at: now,
      query,
      query_id: queryId,
    };
    await this.#write(trigger, dataset);
    this.onChange(trigger.id, trigger);
    return trigger;
  }

  async remove(dataset: string, id: string): Promise<void> {
    await this.get(dataset, id);
    await this.store.reader().run('DELETE FROM waggle_triggers WHERE id = $1', [id]);
    this.#triggers.delete(id);
    this.#datasets.delete(id);
    this.onChange(id, undefined);
  }

  /** Records the state an evaluation found (fired or resolved). */
  async setTriggered(id: string, triggered: boolean): Promise<void> {
    const t = this.#triggers.get(id);
    if (!t || t.triggered === triggered) return;
    await this.#write({ ...t, triggered }, this.datasetOf(t));
  }

  async #write(t: Trigger, dataset: string): Promise<void> {
    await this.store.reader().run('INSERT OR REPLACE INTO waggle_triggers VALUES ($1, $2, $3)', [t.id, dataset, JSON.stringify(t)]);
    this.#triggers.set(t.id, t);
    this.#datasets.set(t.id, dataset);
  }

  /** `query` (inline, saved as a query too, as Honeycomb does) or `query_id` (a query saved with POST /1/queries). */
  async #query(dataset: string, body: Record<string, unknown>, frequency: number): Promise<{ query: QuerySpec; queryId: string }> {
    const hasQuery = body.query !== undefined && body.query !== null;
    const hasId = body.query_id !== undefined && body.query_id !== null && body.query_id !== '';
    if (hasQuery === hasId) throw new SpecError('query', 'give either query (a query spec) or query_id (a saved query), not both');
    if (hasId) {
      if (typeof body.query_id !== 'string') throw new SpecError('query_id', 'must be the id returned by POST /1/queries/:dataset');
      const saved = await (await SavedQueries.of(this.store)).query(body.query_id);
      if (!saved || saved.dataset !== dataset) throw new SpecError('query_id', `no saved query ${JSON.stringify(body.query_id)} in dataset ${JSON.stringify(dataset)}`);
      const query = checkTriggerQuery(saved.spec as Record<string, unknown>, frequency);
      await this.#validateQuery(dataset, query);
      return { query, queryId: saved.id };
    }
    if (!isObject(body.query)) throw new SpecError('query', 'must be a query spec object');
    const query = checkTriggerQuery(body.query, frequency);
    await this.#validateQuery(dataset, query);
    const queryId = newId();
    await (await SavedQueries.of(this.store)).saveQuery({ id: queryId, dataset, spec: query });
    return { query, queryId };
  }

  async #recipients(v: unknown): Promise<TriggerRecipient[]> {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new SpecError('recipients', 'must be an array');
    const known = new Map((await this.all()).flatMap((t) => t.recipients.map((r) => [r.id, r] as const)));
    return v.map((r, i) => {
      const field = `recipients[${i}]`;
      if (!isObject(r)) throw new SpecError(field, 'must be {id} of an existing recipient or {type, target, details}');
      if (typeof r.id === 'string' && r.id !== '' && r.type === undefined && r.target === undefined) {
        const existing = known.get(r.id);
        if (!existing) throw new SpecError(`${field}.id`, `no recipient ${JSON.stringify(r.id)} on any trigger`);
        return isObject(r.details) ? { ...existing, details: { ...existing.details, ...r.details } } : existing;
      }
      if (typeof r.type !== 'string' || !RECIPIENT_TYPES.includes(r.type)) throw new SpecError(`${field}.type`, `must be one of ${RECIPIENT_TYPES.join(', ')}`);
      if (r.target !== undefined && typeof r.target !== 'string') throw new SpecError(`${field}.target`, 'must be a string');
      if (r.details !== undefined && !isObject(r.details)) throw new SpecError(`${field}.details`, 'must be an object');
      const recipient: TriggerRecipient = { id: randomBytes(8).toString('base64url').slice(0, 11), type: r.type };
      if (typeof r.target === 'string') recipient.target = r.target;
      if (isObject(r.details)) recipient.details = r.details;
      if (r.type === 'webhook' && webhookUrl(recipient) === undefined) {
        throw new SpecError(`${field}.target`, 'a webhook recipient needs its http(s) URL as target (or details.webhook_url)');
      }
      return recipient;
    });
  }
}

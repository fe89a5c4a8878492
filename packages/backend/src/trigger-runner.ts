// Evaluates triggers on their schedule, as Honeycomb does: run the trigger's query over its time range, compare each
// group's value with the threshold, fire after `exceeded_limit` consecutive hits, resolve when the condition clears.
// A change of state is announced to the trigger's recipients (webhooks get Honeycomb's default JSON payload), in one
// printed line and in the open incident's timeline. Evaluation runs beside ingest and never waits on a recipient.
import { runQuery, type ResultValue } from './engine.js';
import { IncidentLog } from './incident-log.js';
import { createMarker } from './markers.js';
import type { Store } from './store.js';
import { inSchedule, webhookUrl, type Trigger, type TriggerStore } from './triggers.js';

/** How long a recipient may take to accept a notification. */
const DELIVERY_TIMEOUT_MS = 5000;
const OPERATOR_WORDS: Record<string, string> = { '>': 'greater than', '>=': 'greater than or equal to', '<': 'less than', '<=': 'less than or equal to' };
/** Calculations whose value over no events is 0, not missing. */
const ZERO_WHEN_EMPTY = new Set(['COUNT', 'SUM', 'COUNT_DISTINCT']);

export interface TriggerRunnerOptions {
  /**
   * Evaluate every trigger every this many seconds instead of its `frequency`, with its query's time range scaled by
   * the same factor (a 60 s trigger over the last 60 s, run every 2 s, looks at the last 2 s). For tests and demos:
   * the API keeps accepting only Honeycomb's frequencies. Default: each trigger's frequency.
   */
  periodSeconds?: number;
  /** Where the one line per firing or resolving trigger goes. Default: stdout. */
  log?: (line: string) => void;
  /** The open incident's timeline gets an entry per change of state. */
  incidentDir: string;
  /** The backend's base URL, for links in notifications. */
  baseUrl: () => string;
}

export interface TriggerGroupResult {
  Group: Record<string, unknown>;
  Result: number | null;
}

/** What the runner knows about a trigger beyond its definition: for `/api/triggers` and the UI. */
export interface TriggerState {
  last_evaluated_at?: string;
  /** The calculation's value per group at the last evaluation, and the groups that met the threshold. */
  last_result?: { groups: TriggerGroupResult[]; triggered_groups: TriggerGroupResult[] };
  /** Consecutive evaluations that met the threshold. */
  exceeded_count: number;
  last_fired_at?: string;
  last_resolved_at?: string;
  last_error?: string;
  /** Outcome of the last notification per recipient id: `delivered` or the error. */
  deliveries?: Record<string, string>;
}

interface Slot {
  state: TriggerState;
  nextAt: number;
  running: boolean;
}

function compare(op: string, a: number, b: number): boolean {
  return op === '>' ? a > b : op === '>=' ? a >= b : op === '<' ? a < b : a <= b;
}

function numeric(v: ResultValue | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** `COUNT = 312`, or `COUNT = 312 for service.name=proxy` with breakdowns. */
function describeGroup(calc: string, g: TriggerGroupResult): string {
  const group = Object.entries(g.Group).map(([k, v]) => `${k}=${String(v)}`).join(', ');
  return `${calc} = ${g.Result ?? 'no data'}${group ? ` for ${group}` : ''}`;
}

export class TriggerRunner {
  readonly #slots = new Map<string, Slot>();
  readonly #pending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    private readonly store: Store,
    private readonly triggers: TriggerStore,
    private readonly options: TriggerRunnerOptions,
  ) {
    triggers.onChange = (id, trigger) => {
      const slot = this.#slots.get(id);
      if (!trigger) this.#slots.delete(id);
      else if (slot) slot.state.exceeded_count = 0; // a changed condition starts counting again
      else this.#slots.set(id, { state: { exceeded_count: 0 }, nextAt: Date.now() + this.#periodMs(trigger), running: false });
    };
  }

  #periodMs(t: Trigger): number {
    return (this.options.periodSeconds ?? t.frequency) * 1000;
  }

  /** The seconds of data one evaluation looks at (at least one). */
  #windowSeconds(t: Trigger): number {
    const range = t.query.time_range ?? t.frequency;
    return Math.max(1, Math.round(this.options.periodSeconds === undefined ? range : (range * this.options.periodSeconds) / t.frequency));
  }

  async start(): Promise<void> {
    const now = Date.now();
    for (const t of await this.triggers.all()) this.#slots.set(t.id, { state: { exceeded_count: 0 }, nextAt: now + this.#periodMs(t), running: false });
    const tickMs = Math.min(1000, Math.max(50, ((this.options.periodSeconds ?? 60) * 1000) / 4));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
  }

  /** Stops scheduling and waits for running evaluations and notifications. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    while (this.#pending.size > 0) await Promise.allSettled(this.#pending);
  }

  state(id: string): TriggerState {
    return this.#slots.get(id)?.state ?? { exceeded_count: 0 };
  }

  /** Keeps background work for stop() to wait on; a failure is a printed line, never an unhandled rejection. */
  #track(work: Promise<void>): void {
    const tracked: Promise<void> = work
      .catch((error: unknown) => this.#print(`trigger evaluation failed: ${(error as Error)?.message ?? String(error)}`))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #tick(): void {
    if (!this.#stopped) this.#track(this.triggers.all().then((all) => this.#startDue(all, Date.now())));
  }

  /** Starts the evaluation of every enabled trigger whose time has come (one at a time per trigger). */
  #startDue(all: Trigger[], now: number): void {
    for (const t of all) {
      const slot = this.#slots.get(t.id);
      if (!slot || slot.running || slot.nextAt > now || t.disabled) continue;
      slot.nextAt = now + this.#periodMs(t);
      if (!inSchedule(t, new Date(now))) continue;
      slot.running = true;
      this.#track(this.#evaluate(t, slot).finally(() => (slot.running = false)));
    }
  }

  async #evaluate(t: Trigger, slot: Slot): Promise<void> {
    const state = slot.state;
    const now = Date.now();
    let groups: TriggerGroupResult[];
    try {
      const spec = await this.triggers.resolve(t, this.#windowSeconds(t), now / 1000);
      await this.store.settle();
      const dataset = this.triggers.datasetOf(t);
      const data = await runQuery(this.store.reader(), dataset, spec, { series: false, unweighted: !this.store.hasSampledEvents(dataset) });
      const calc = spec.calculations[0]!;
      const keys = spec.breakdowns.map((b) => b.key);
      groups = data.results.map((r) => ({ Group: Object.fromEntries(keys.map((k) => [k, r.data[k] ?? null])), Result: numeric(r.data[calc.name]) }));
      if (groups.length === 0 && keys.length === 0) groups = [{ Group: {}, Result: ZERO_WHEN_EMPTY.has(calc.op) ? 0 : null }];
    } catch (error) {
      const message = (error as Error).message;
      if (state.last_error !== message) this.#print(`trigger ${JSON.stringify(t.name)} (${t.dataset_slug}) could not be evaluated: ${message}`);
      state.last_error = message;
      state.last_evaluated_at = new Date(now).toISOString();
      return;
    }
    delete state.last_error;
    const hits = groups.filter((g) => g.Result !== null && compare(t.threshold.op, g.Result, t.threshold.value));
    state.last_evaluated_at = new Date(now).toISOString();
    state.last_result = { groups, triggered_groups: hits };
    state.exceeded_count = hits.length > 0 ? state.exceeded_count + 1 : 0;
    // The definition may have changed while the query ran: act on the current one.
    const current = (await this.triggers.all()).find((x) => x.id === t.id);
    if (!current || current.disabled || this.#stopped) return;
    if (!current.triggered && state.exceeded_count >= current.threshold.exceeded_limit) {
      state.last_fired_at = state.last_evaluated_at;
      await this.triggers.setTriggered(current.id, true);
      await this.#announce(current, state, 'TRIGGERED', groups, hits);
    } else if (current.triggered && hits.length === 0) {
      state.last_resolved_at = state.last_evaluated_at;
      await this.triggers.setTriggered(current.id, false);
      await this.#announce(current, state, 'OK', groups, hits);
    } else if (current.triggered && current.alert_type === 'on_true') {
      this.#notify(current, state, 'TRIGGERED', groups, hits);
    }
  }

  async #announce(t: Trigger, state: TriggerState, status: 'TRIGGERED' | 'OK', groups: TriggerGroupResult[], hits: TriggerGroupResult[]): Promise<void> {
    const calc = t.query.calculations?.[0];
    const calcName = calc ? (calc.column ? `${calc.op}(${calc.column})` : calc.op) : 'COUNT';
    const shown = (status === 'TRIGGERED' ? hits : groups).slice(0, 3).map((g) => describeGroup(calcName, g)).join('; ');
    const condition = `threshold ${t.threshold.op} ${t.threshold.value}`;
    const line =
      status === 'TRIGGERED'
        ? `trigger ${JSON.stringify(t.name)} (${t.dataset_slug}) fired: ${shown}, ${condition}`
        : `trigger ${JSON.stringify(t.name)} (${t.dataset_slug}) resolved: ${shown || `${calcName} = no data`}, ${condition}`;
    this.#print(line);
    this.#notify(t, state, status, groups, hits);
    try {
      await new IncidentLog(this.options.incidentDir).append({
        kind: 'trigger',
        text: `trigger ${JSON.stringify(t.name)} ${status === 'TRIGGERED' ? 'fired' : 'resolved'} (${t.dataset_slug})`,
        summary: `${shown || `${calcName} = no data`}, ${condition}`,
      });
    } catch (error) {
      this.#print(`trigger ${JSON.stringify(t.name)}: could not write to the incident log: ${(error as Error).message}`);
    }
  }

  /** Sends the notification to every recipient in the background; each has its own timeout. */
  #notify(t: Trigger, state: TriggerState, status: 'TRIGGERED' | 'OK', groups: TriggerGroupResult[], hits: TriggerGroupResult[]): void {
    const base = this.options.baseUrl();
    const calc = t.query.calculations?.[0];
    const calcName = calc ? (calc.column ? `${calc.op}(${calc.column})` : calc.op) : 'COUNT';
    const operator = OPERATOR_WORDS[t.threshold.op] ?? t.threshold.op;
    const worst = hits[0] ?? groups[0];
    const payload = {
      version: 'v0.1.0',
      id: t.id,
      name: t.name,
      trigger_description: t.description,
      trigger_url: `${base}/#/triggers`,
      status,
      summary: `${status === 'TRIGGERED' ? 'Triggered' : 'Resolved'}: ${t.name}`,
      description: `Currently ${status === 'TRIGGERED' ? '' : 'not '}${operator} threshold value (${t.threshold.value}) for ${worst ? describeGroup(calcName, worst) : calcName}`,
      operator,
      threshold: t.threshold.value,
      result_url: `${base}/#/query?dataset=${encodeURIComponent(t.dataset_slug)}`,
      result_groups: groups,
      result_groups_triggered: hits,
      is_test: false,
    };
    state.deliveries ??= {};
    const deliveries = state.deliveries;
    for (const r of t.recipients) {
      if (r.type === 'webhook') {
        const url = webhookUrl(r)!;
        const secret = typeof r.details?.webhook_secret === 'string' ? r.details.webhook_secret : undefined;
        this.#track(
          fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(secret ? { 'x-honeycomb-webhook-token': secret } : {}) },
            body: JSON.stringify(payload),
            signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
          }).then(
            async (res) => {
              await res.arrayBuffer().catch(() => undefined);
              deliveries[r.id] = res.ok ? 'delivered' : `HTTP ${res.status}`;
              if (!res.ok) this.#print(`trigger ${JSON.stringify(t.name)}: webhook ${url} answered ${res.status}`);
            },
            (error: unknown) => {
              const e = error as Error & { cause?: { code?: string } };
              deliveries[r.id] = e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.message);
              this.#print(`trigger ${JSON.stringify(t.name)}: webhook ${url} failed: ${deliveries[r.id]}`);
            },
          ),
        );
      } else if (r.type === 'marker' && status === 'TRIGGERED') {
        this.#track(
          createMarker(this.store, this.triggers.datasetOf(t), { message: r.target || `trigger: ${t.name}`, type: 'trigger' }).then(
            () => void (deliveries[r.id] = 'delivered'),
            (error: unknown) => void (deliveries[r.id] = (error as Error).message),
          ),
        );
      } else if (deliveries[r.id] === undefined) {
        deliveries[r.id] = `not delivered: the Waggle backend sends only webhook and marker notifications`;
      }
    }
  }

  #print(line: string): void {
    (this.options.log ?? ((l: string) => process.stdout.write(`${l}\n`)))(line);
  }
}

import type { Trigger, TriggerState } from '@waggle/backend';
import { triggerCondition } from '@waggle/backend/trigger-condition';
import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { parseCalculation, parseDuration, parseFilter, type Filter } from '../query-syntax.js';
import { formatValue } from '../render/format.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText, terminalText } from '../render/terminal-text.js';

const HELP = `waggle trigger — alert when a query crosses a threshold (Honeycomb's Triggers API)

Usage: waggle trigger add "retry storm" --dataset proxy --calc COUNT --where 'name = retry_storm' --threshold '> 50'
                          [--frequency 1m] [--time-range 1m] [--group-by COL …] [--webhook URL …] [--recipient-id ID …]
                          [--alert-type on_change|on_true] [--exceeded-limit N] [--description TEXT] [--disabled]
       waggle trigger list [--dataset D]
       waggle trigger rm ID [--dataset D]

  --calc CALC          the one calculation watched (default COUNT)
  --threshold 'OP N'   OP one of > >= < <=
  --frequency D        how often it is evaluated: 60s to 1d in whole minutes (default 15m)
  --time-range D       the data each evaluation looks at (default: the frequency; at most 4 × frequency)
  --webhook URL        POST Honeycomb's trigger JSON to URL when it fires and resolves (local backend)
  --recipient-id ID    an existing recipient (on Honeycomb: a Slack channel, PagerDuty service, webhook …)
The local backend evaluates triggers itself (waggle serve prints a line and notes it in the open incident).
list without --dataset shows every trigger of the local backend with its state and last result.
${TARGET_HELP}`;

const OPTIONS = {
  ...TARGET_FLAGS,
  dataset: { type: 'string' },
  calc: { type: 'string', default: 'COUNT' },
  where: { type: 'string', multiple: true },
  'group-by': { type: 'string', multiple: true },
  threshold: { type: 'string' },
  frequency: { type: 'string' },
  'time-range': { type: 'string' },
  webhook: { type: 'string', multiple: true },
  'recipient-id': { type: 'string', multiple: true },
  'alert-type': { type: 'string' },
  'exceeded-limit': { type: 'string' },
  description: { type: 'string' },
  disabled: { type: 'boolean', default: false },
} as const;

/** Seconds from `90`, `90s`, `15m`, `1h`. */
function seconds(text: string, flag: string): number {
  return /^\d+$/.test(text.trim()) ? Number(text) : parseDuration(text, flag);
}

function path(dataset: string, id?: string): string {
  return `/1/triggers/${encodeURIComponent(dataset)}${id ? `/${encodeURIComponent(id)}` : ''}`;
}

function every(s: number): string {
  return s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

function lastValue(state: TriggerState | undefined): string {
  const groups = state?.last_result?.triggered_groups.length ? state.last_result.triggered_groups : (state?.last_result?.groups ?? []);
  if (state?.last_error) return `error: ${state.last_error}`;
  if (groups.length === 0) return state?.last_evaluated_at ? 'no data' : 'not evaluated yet';
  return groups.slice(0, 2).map((g) => formatValue(g.Result)).join(', ');
}

export const triggerCommand: Command = {
  name: 'trigger',
  description: 'add / list / rm triggers (alerts on a query crossing a threshold)',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    const { values: v, positionals } = parseFlags(ctx.argv, OPTIONS, true);
    const [sub, ...rest] = positionals;
    if (v.help || sub === undefined) {
      if (!v.help) throw new UsageError('waggle trigger needs a subcommand: add, list or rm');
      return void ctx.stdout.write(`${HELP}\n`);
    }
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    switch (sub) {
      case 'add': {
        const name = rest.join(' ').trim();
        if (!name) throw new UsageError('waggle trigger add needs a name, for example: waggle trigger add "retry storm" …');
        if (!v.dataset) throw new UsageError('--dataset is required: the dataset whose events the trigger watches (or __all__)');
        const m = /^\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(v.threshold ?? '');
        if (!m) throw new UsageError(`--threshold ${JSON.stringify(v.threshold ?? '')}: expected "OP NUMBER" with OP one of > >= < <=, for example '> 50'`);
        const frequency = v.frequency === undefined ? 900 : seconds(v.frequency, '--frequency');
        const timeRange = v['time-range'] === undefined ? frequency : seconds(v['time-range'], '--time-range');
        const exceeded = v['exceeded-limit'] === undefined ? undefined : Number(v['exceeded-limit']);
        if (exceeded !== undefined && !Number.isInteger(exceeded)) throw new UsageError(`--exceeded-limit ${JSON.stringify(v['exceeded-limit'])}: expected a whole number from 1 to 5`);
        const filters: Filter[] = (v.where ?? []).map(parseFilter);
        const body = {
          name,
          ...(v.description ? { description: v.description } : {}),
          query: {
            calculations: [parseCalculation(v.calc)],
            ...(filters.length ? { filters } : {}),
            ...(v['group-by']?.length ? { breakdowns: v['group-by'] } : {}),
            time_range: timeRange,
          },
          frequency,
          threshold: { op: m[1], value: Number(m[2]), ...(exceeded !== undefined ? { exceeded_limit: exceeded } : {}) },
          ...(v['alert-type'] ? { alert_type: v['alert-type'] } : {}),
          ...(v.disabled ? { disabled: true } : {}),
          recipients: [...(v.webhook ?? []).map((url) => ({ type: 'webhook', target: url })), ...(v['recipient-id'] ?? []).map((id) => ({ id }))],
        };
        const answer = await target.request<Trigger>('POST', path(v.dataset), body);
        const created = forTerminal(answer);
        if (v.json) ctx.stdout.write(`${jsonText(answer)}\n`);
        else ctx.stdout.write(`trigger ${created.id} added to ${created.dataset_slug ?? v.dataset}: ${JSON.stringify(created.name)} when ${triggerCondition(created)}, every ${every(created.frequency)}\n`);
        return { summary: `trigger ${JSON.stringify(name)} added: ${triggerCondition(created)}` };
      }
      case 'list': {
        let rows: Array<{ trigger: Trigger; state?: TriggerState }>;
        if (v.dataset) rows = (await target.request<Trigger[]>('GET', path(v.dataset))).map((trigger) => ({ trigger }));
        else if (target.name === 'local') rows = await target.request('GET', '/api/triggers');
        else throw new UsageError('--dataset is required with --target honeycomb (Honeycomb lists triggers per dataset)');
        if (v.json) ctx.stdout.write(`${jsonText(rows)}\n`);
        else {
          const table = forTerminal(rows).map(({ trigger: t, state }) => [
            t.id,
            t.name,
            t.dataset_slug ?? v.dataset ?? '',
            triggerCondition(t),
            every(t.frequency),
            t.disabled ? 'disabled' : t.triggered ? 'TRIGGERED' : 'ok',
            ...(v.dataset ? [] : [lastValue(state), state?.last_evaluated_at?.slice(11, 19) ?? '-']),
          ]);
          const headers = ['id', 'name', 'dataset', 'condition', 'every', 'state', ...(v.dataset ? [] : ['last value', 'evaluated'])];
          ctx.stdout.write(`${rows.length ? renderTable(headers.map((header) => ({ header })), table) : 'no triggers'}\n`);
        }
        const firing = rows.filter((r) => r.trigger.triggered).map((r) => r.trigger.name);
        return { summary: `${rows.length} triggers${firing.length ? `, triggered: ${firing.join(', ')}` : ''}` };
      }
      case 'rm': {
        const id = rest[0];
        if (!id || rest.length > 1) throw new UsageError('waggle trigger rm needs one trigger id (see: waggle trigger list)');
        let dataset = v.dataset;
        if (!dataset && target.name === 'local') {
          const all = await target.request<Array<{ trigger: Trigger }>>('GET', '/api/triggers');
          dataset = all.find((r) => r.trigger.id === id)?.trigger.dataset_slug;
          if (!dataset) throw new UsageError(`no trigger ${JSON.stringify(id)} on the local backend (see: waggle trigger list)`);
        }
        if (!dataset) throw new UsageError('--dataset is required with --target honeycomb');
        await target.request('DELETE', path(dataset, id));
        ctx.stdout.write(`trigger ${terminalText(id)} removed from ${terminalText(dataset)}\n`);
        return { summary: `trigger ${id} removed` };
      }
      default:
        throw new UsageError(`unknown trigger subcommand ${JSON.stringify(sub)}: expected add, list or rm`);
    }
  },
};

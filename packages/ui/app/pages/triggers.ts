// Triggers with their state and last result, as the backend last evaluated them (GET /api/triggers). Refreshes itself.
import { getTriggers, type TriggerWithState } from '../api.js';
import { errorBox, formatValue, h } from '../dom.js';
import { triggerCondition } from '@waggle/backend/trigger-condition';

const REFRESH_MS = 5000;

function stateOf({ trigger: t }: TriggerWithState): { label: string; cls: string } {
  if (t.disabled) return { label: 'disabled', cls: 'state-disabled' };
  return t.triggered ? { label: 'TRIGGERED', cls: 'state-triggered' } : { label: 'ok', cls: 'state-ok' };
}

function lastResult({ state }: TriggerWithState): string {
  if (state.last_error) return `error: ${state.last_error}`;
  const r = state.last_result;
  if (!r) return 'not evaluated yet';
  const groups = r.triggered_groups.length ? r.triggered_groups : r.groups;
  return groups
    .slice(0, 3)
    .map((g) => {
      const group = Object.entries(g.Group).map(([k, v]) => `${k}=${String(v)}`).join(', ');
      return `${formatValue(g.Result)}${group ? ` (${group})` : ''}`;
    })
    .join('; ') || 'no data';
}

const time = (iso: string | undefined) => (iso ? iso.slice(11, 19) : '—');

function table(rows: TriggerWithState[]): HTMLElement {
  return h(
    'table',
    { id: 'triggers' },
    h('thead', {}, h('tr', {}, ...['name', 'dataset', 'condition', 'every', 'state', 'last result', 'evaluated', 'fired', 'resolved', 'recipients'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      ...rows.map((row) => {
        const { trigger: t, state } = row;
        const s = stateOf(row);
        const recipients = t.recipients.map((r) => `${r.type}${r.target ? ` ${r.target}` : ''}${state.deliveries?.[r.id] ? ` — ${state.deliveries[r.id]}` : ''}`);
        return h(
          'tr',
          { 'data-id': t.id, class: s.cls },
          h('td', {}, t.name),
          h('td', {}, t.dataset_slug),
          h('td', {}, h('code', {}, triggerCondition(t))),
          h('td', { class: 'num' }, `${t.frequency / 60}m`),
          h('td', { class: 'state' }, s.label),
          h('td', { class: 'last-result' }, lastResult(row)),
          h('td', {}, time(state.last_evaluated_at)),
          h('td', {}, time(state.last_fired_at)),
          h('td', {}, time(state.last_resolved_at)),
          h('td', {}, recipients.join('; ') || '—'),
        );
      }),
    ),
  );
}

export async function renderTriggersPage(main: HTMLElement): Promise<void> {
  const title = h('h1', {}, 'Triggers');
  const hint = h('p', { class: 'hint' }, 'Evaluated by waggle serve on their frequency. Add one with: waggle trigger add "name" --dataset D --calc COUNT --where … --threshold "> 50"');
  const body = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
  main.replaceChildren(title, hint, body);
  const refresh = async (): Promise<void> => {
    try {
      const rows = await getTriggers();
      body.replaceChildren(rows.length ? table(rows) : h('p', { class: 'empty' }, 'No triggers yet.'));
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  };
  await refresh();
  const timer = setInterval(() => {
    if (!main.isConnected) clearInterval(timer);
    else void refresh();
  }, REFRESH_MS);
}

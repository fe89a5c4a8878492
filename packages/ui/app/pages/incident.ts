import { getIncident } from '../api.js';
import { errorBox, h } from '../dom.js';

export async function renderIncidentPage(main: HTMLElement): Promise<void> {
  main.replaceChildren(h('h1', {}, 'Incident timeline'), h('p', { class: 'loading' }, 'Loading…'));
  try {
    const { incident, entries } = await getIncident();
    if (!incident) {
      main.replaceChildren(h('h1', {}, 'Incident timeline'), h('p', { class: 'empty' }, 'No incident yet. Start one with: waggle incident start "title"'));
      return;
    }
    main.replaceChildren(
      h('h1', {}, `Incident: ${incident.title}`),
      h('p', {}, `${incident.startedAt} → ${incident.endedAt ?? 'ongoing'}`),
      h(
        'table',
        { id: 'timeline' },
        h('thead', {}, h('tr', {}, h('th', {}, 'time (UTC)'), h('th', {}, 'what'), h('th', {}, 'answer'))),
        h(
          'tbody',
          {},
          ...entries.map((e) =>
            h(
              'tr',
              { class: `entry-${e.kind}${e.failed ? ' failed' : ''}` },
              h('td', {}, e.time.slice(11, 19)),
              h('td', {}, e.kind === 'command' ? h('code', {}, e.text) : e.kind === 'note' ? `note: ${e.text}` : e.text),
              h('td', {}, `${e.failed ? 'FAILED: ' : ''}${e.summary ?? ''}`),
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    main.replaceChildren(h('h1', {}, 'Incident timeline'), errorBox(error));
  }
}

// Hash routes keep every view shareable: #/query?…, #/heatmap?…, #/trace/<id>, #/gaps?…, #/incident, #/triggers.
import { onKeyNeeded } from './api.js';
import { h } from './dom.js';
import { renderGapsPage } from './pages/gaps.js';
import { renderHeatmapPage } from './pages/heatmap.js';
import { renderIncidentPage } from './pages/incident.js';
import { renderQueryPage } from './pages/query.js';
import { renderTracePage } from './pages/trace.js';
import { renderTriggersPage } from './pages/triggers.js';

export interface Route {
  path: string;
  params: URLSearchParams;
}

export function currentRoute(): Route {
  const hash = location.hash.replace(/^#/, '') || '/query';
  const [path = '/query', query = ''] = hash.split('?');
  return { path, params: new URLSearchParams(query) };
}

/** Replaces the URL's query so the view can be shared, without re-rendering. */
export function setParams(path: string, params: URLSearchParams, push = true): void {
  const url = `#${path}?${params.toString()}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

const NAV: Array<[string, string]> = [
  ['/query', 'Query'],
  ['/heatmap', 'Heatmap & BubbleUp'],
  ['/gaps', 'Gaps'],
  ['/incident', 'Incident'],
  ['/triggers', 'Triggers'],
];

async function render(): Promise<void> {
  const route = currentRoute();
  const root = document.getElementById('app')!;
  const main = h('main', { id: 'page' });
  const nav = h(
    'nav',
    {},
    h('span', { class: 'brand' }, 'waggle'),
    ...NAV.map(([path, label]) => h('a', { href: `#${path}`, class: route.path === path ? 'active' : '' }, label)),
  );
  root.replaceChildren(nav, main);
  const page = route.path.startsWith('/trace/')
    ? renderTracePage(main, decodeURIComponent(route.path.slice('/trace/'.length)), route.params)
    : route.path === '/heatmap'
      ? renderHeatmapPage(main, route)
      : route.path === '/gaps'
        ? renderGapsPage(main, route)
        : route.path === '/incident'
          ? renderIncidentPage(main)
          : route.path === '/triggers'
            ? renderTriggersPage(main)
            : renderQueryPage(main, route);
  await page;
  document.body.dataset.ready = 'true';
}

/** Asks for the backend's API key in a small form over the page; resolves with what the user enters. */
function askForKey(refused: boolean): Promise<string> {
  return new Promise((resolve) => {
    const input = h('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, placeholder: 'API key' });
    const form = h(
      'form',
      { id: 'api-key-form', class: 'api-key' },
      h('p', {}, refused ? 'That key was refused. ' : '', 'This backend needs an API key (one of WAGGLE_API_KEYS), sent as X-Honeycomb-Team. It is kept for this tab only.'),
      input,
      h('button', { type: 'submit' }, 'Use key'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      form.remove();
      resolve(input.value);
    });
    document.body.append(form);
    input.focus();
  });
}
onKeyNeeded(askForKey);

window.addEventListener('hashchange', () => void render());
window.addEventListener('popstate', () => void render());
void render();

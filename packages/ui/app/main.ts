// Hash routes keep every view shareable: #/query?…, #/heatmap?…, #/trace/<id>, #/gaps?…, #/incident, #/triggers.
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

window.addEventListener('hashchange', () => void render());
window.addEventListener('popstate', () => void render());
void render();

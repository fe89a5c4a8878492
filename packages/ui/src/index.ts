import { fileURLToPath } from 'node:url';

/** Directory of the built web UI (index.html, app.js, styles), served at `/` by `waggle serve`. */
export function uiDirectory(): string {
  return fileURLToPath(new URL('./static/', import.meta.url));
}

import { fileURLToPath } from 'node:url';

/** Directory of the built web UI (index.html, app.js, styles), served at `/` by `waggle serve`. */
export function uiDirectory(): string {
  // Relative to the package root, so it resolves the same from src/ (tests) and dist/ (published).
  return fileURLToPath(new URL('../dist/static/', import.meta.url));
}

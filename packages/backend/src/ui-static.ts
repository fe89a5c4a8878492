import { readFile, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { decodeSegment, HttpError } from './http-util.js';

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>Waggle</title></head>
<body><h1>Waggle backend</h1><p>The web UI is not installed. The API is available:
<code>POST /v1/traces</code>, <code>POST /1/batch/:dataset</code>, <code>POST /1/queries/:dataset</code>,
<code>GET /api/traces/:traceId</code>, <code>POST /api/bubbleup/:dataset</code>.</p></body></html>`;

/** Serves the web UI's files from `uiDir` (client-side routes get index.html), or a placeholder page without it. */
export async function serveUi(uiDir: string | undefined, pathname: string, method: string, res: ServerResponse): Promise<void> {
  if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'the UI only answers GET');
  if (!uiDir) {
    if (pathname !== '/' && pathname !== '/index.html') throw new HttpError(404, `no route for GET ${pathname}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return void res.end(method === 'HEAD' ? undefined : PLACEHOLDER);
  }
  const root = path.resolve(uiDir);
  let file = path.resolve(root, `.${decodeSegment(pathname, 'path')}`);
  // Never serve outside the UI directory.
  if (file !== root && !file.startsWith(root + path.sep)) throw new HttpError(404, 'not found');
  const isFile = await stat(file).then((s) => s.isFile(), () => false);
  // Client-side routes (no file extension) get index.html.
  if (!isFile) {
    if (path.extname(file) !== '') throw new HttpError(404, `no file ${pathname}`);
    file = path.join(root, 'index.html');
  }
  const content = await readFile(file).catch(() => undefined);
  if (!content) throw new HttpError(404, `no file ${pathname}`);
  res.writeHead(200, { 'content-type': STATIC_TYPES[path.extname(file)] ?? 'application/octet-stream' });
  res.end(method === 'HEAD' ? undefined : content);
}

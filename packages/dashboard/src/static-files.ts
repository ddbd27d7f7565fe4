/**
 * The dashboard page's files: the package's static/ directory, and uPlot's script and stylesheet
 * from node_modules (resolved like an import, so they are whatever version is installed; no CDN).
 * A fixed table of names: nothing from the request path reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const STATIC = (name: string) => fileURLToPath(new URL(`../static/${name}`, import.meta.url));

const FILES: Record<string, { path: () => string; type: string }> = {
  '/': { path: () => STATIC('index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.css': { path: () => STATIC('dashboard.css'), type: 'text/css; charset=utf-8' },
  '/dashboard.js': { path: () => STATIC('dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': {
    path: () => require.resolve('uplot/dist/uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export function isStaticPath(path: string): boolean {
  return Object.hasOwn(FILES, path);
}

/** Files are small and few: read once, kept in memory. */
const cache = new Map<string, Buffer>();

export async function sendStatic(res: ServerResponse, path: string, title: string): Promise<void> {
  const file = FILES[path];
  if (!file) throw new Error(`not a static path: ${path}`);
  let body = cache.get(path);
  if (!body) {
    body = await readFile(file.path());
    cache.set(path, body);
  }
  if (path === '/') body = Buffer.from(body.toString('utf8').replaceAll('{{title}}', escapeHtml(title)));
  res.writeHead(200, {
    'content-type': file.type,
    'content-length': body.length,
    'cache-control': path === '/' ? 'no-store' : 'public, max-age=300',
    'x-content-type-options': 'nosniff',
    'content-security-policy':
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'",
  });
  res.end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errorBody } from './error-handler.js';

// The dashboard page: static files only, and the page talks to the public API like any client.
// index.html and the stylesheet sit in backend/dashboard/, the page's code is compiled there by
// `npm run build` (backend/dashboard/tsconfig.json, into dist/dashboard/), and uPlot comes from
// node_modules as installed: nothing is fetched from any other host, so it works on a plant
// network without internet.

const here = dirname(fileURLToPath(import.meta.url));
// This module runs from dist/backend/http/ (the CLI) or backend/http/ (tests); the files stay in the checkout.
const inDist = basename(resolve(here, '..', '..')) === 'dist';
const checkout = inDist ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
const SOURCE_DIR = join(checkout, 'backend', 'dashboard');
const BUILD_DIR = join(checkout, 'dist', 'dashboard');
const uplotDir = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));

/** The vendored files the page loads, by the name it asks for. */
const VENDOR: Readonly<Record<string, string>> = {
  'uPlot.esm.js': join(uplotDir, 'uPlot.esm.js'),
  'uPlot.min.css': join(uplotDir, 'uPlot.min.css'),
};

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
  svg: 'image/svg+xml',
};

// No slash, no dot-dot: a name is looked up in two folders and nowhere else.
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*\.(html|js|css|png|svg)$/;

// The page's own origin only; uPlot sets element styles, hence 'unsafe-inline' for styles alone.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Small files, revalidated on every load so a new build is never mixed with an old one.
  'cache-control': 'no-cache',
};

const publicRoute = { access: 'public' as const };

/** Sends the file; false (nothing sent) when it is not there. */
async function send(reply: FastifyReply, path: string, name: string): Promise<boolean> {
  const type = TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  // Not awaited: a reply is thenable, and settles only once it has been sent.
  void reply.headers(SECURITY_HEADERS).type(type).send(body);
  return true;
}

function notFound(reply: FastifyReply, url: string, hint = ''): void {
  void reply.status(404).send(errorBody(404, 'API_ROUTE_NOT_FOUND', `no dashboard file ${url}${hint}`));
}

/** `/` and `/dashboard/*`: public, since the page holds no data; the API behind it asks for the token. */
export function registerDashboardRoutes(app: FastifyInstance): void {
  const hidden = { hide: true };
  app.get('/', { config: publicRoute, schema: hidden }, async (request, reply) => {
    if (!(await send(reply, join(SOURCE_DIR, 'index.html'), 'index.html'))) notFound(reply, request.url);
    return reply;
  });

  app.get<{ Params: { file: string } }>('/dashboard/vendor/:file', { config: publicRoute, schema: hidden }, async (request, reply) => {
    const path = VENDOR[request.params.file];
    if (path === undefined || !(await send(reply, path, request.params.file))) notFound(reply, request.url);
    return reply;
  });

  app.get<{ Params: { file: string } }>('/dashboard/:file', { config: publicRoute, schema: hidden }, async (request, reply) => {
    const { file } = request.params;
    // Compiled code from the build, everything else from the sources.
    const code = file.endsWith('.js');
    if (!FILE_NAME.test(file) || !(await send(reply, join(code ? BUILD_DIR : SOURCE_DIR, file), file))) {
      notFound(reply, request.url, code ? ' (is the dashboard built? npm run build)' : '');
    }
    return reply;
  });
}

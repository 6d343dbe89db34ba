import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, READ_TOKEN, type TestApp, startTestApp } from '../../test/helpers/backend-app.js';

// The dashboard's files (built by test/global-setup.ts) and the route that tells it what a token may do.

describe('the dashboard routes', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(() => t.close());

  it('serves the page, its code and uPlot without a token, with a policy that allows this origin only', async () => {
    const page = await t.get('/', null);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(String(page.body)).toContain('<script type="module" src="/dashboard/main.js"></script>');
    // Every file the page names is served: nothing comes from another host.
    const names = [...String(page.body).matchAll(/(?:href|src)="(\/dashboard\/[^"]+)"/g)].map((m) => m[1] ?? '');
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect({ name, status: (await t.get(name, null)).status }).toEqual({ name, status: 200 });
    expect(String(page.body)).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
    expect((await t.get('/dashboard/vendor/uPlot.esm.js', null)).headers['content-type']).toBe('text/javascript; charset=utf-8');
  });

  it.each([
    '/dashboard/nothing.js',
    '/dashboard/..%2Fpackage.json',
    '/dashboard/vendor/uPlot.cjs.js',
    '/dashboard/%2E%2E%2F%2E%2E%2Fpackage.json',
  ])('answers 404 for %s, never a file outside its folders', async (url) => {
    const { status, body } = await t.get(url, null);
    expect(status).toBe(404);
    expect(body).toMatchObject({ code: 'API_ROUTE_NOT_FOUND' });
  });

  it('tells a token its name and scopes, and asks for one when there is none', async () => {
    expect((await t.get('/api/v1/auth/whoami')).body).toEqual({ name: 'dashboard', scopes: ['read'], openAccess: false });
    expect((await t.get('/api/v1/auth/whoami', ADMIN_TOKEN)).body).toEqual({
      name: 'operator',
      scopes: ['admin', 'read'],
      openAccess: false,
    });
    expect((await t.get('/api/v1/auth/whoami', null)).status).toBe(401);
    expect(READ_TOKEN).not.toBe(ADMIN_TOKEN);
  });
});

describe('the dashboard with open access', () => {
  it('needs no token', async () => {
    const t = await startTestApp({ auth: { openAccess: true } });
    try {
      expect((await t.get('/api/v1/auth/whoami', null)).body).toEqual({ name: 'open-access', scopes: ['admin', 'read'], openAccess: true });
    } finally {
      await t.close();
    }
  });
});

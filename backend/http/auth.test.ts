import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, READ_TOKEN, type TestApp, startTestApp } from '../../test/helpers/backend-app.js';
import { hashToken, newToken } from './auth.js';

const anyString = expect.any(String) as string;

describe('API tokens, scopes and rate limits', () => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('makes tokens of 256 random bits and stores only their SHA-256', () => {
    const token = newToken();
    expect(token).toMatch(/^ftk_[A-Za-z0-9_-]{43}$/);
    expect(newToken()).not.toBe(token);
    expect(hashToken('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('answers 401 with a Bearer challenge without a token, with a malformed header, or with an unknown token', async () => {
    t = await startTestApp();
    const app = t.app;
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{}, /^authorization: a Bearer token is needed/],
      [{ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, /^authorization: expected "Bearer <token>"/],
      [{ authorization: 'Bearer ftk_not-a-token-we-know' }, /^authorization: unknown token/],
    ];
    for (const [headers, message] of cases) {
      const response = await app.inject({ method: 'GET', url: '/api/v1/devices', headers });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="furnace-backend"');
      expect(response.json()).toStrictEqual({ statusCode: 401, code: 'API_UNAUTHORIZED', error: 'Unauthorized', message: anyString });
      expect(response.json<{ message: string }>().message).toMatch(message);
    }
  });

  it('answers 403 to a read token on an admin route, and lets an admin token through', async () => {
    t = await startTestApp();
    const post = (token: string) =>
      t?.app.inject({ method: 'POST', url: '/api/v1/admin/retention', headers: { authorization: `Bearer ${token}` } });
    const refused = await post(READ_TOKEN);
    expect(refused?.statusCode).toBe(403);
    expect(refused?.json()).toStrictEqual({
      statusCode: 403,
      code: 'API_FORBIDDEN',
      error: 'Forbidden',
      message: 'the token "dashboard" lacks the admin scope this route needs',
    });
    const done = await post(ADMIN_TOKEN);
    expect(done?.statusCode).toBe(200);
    expect(done?.json()).toEqual({ rawReadings: 0, minuteRollups: 0, hourRollups: 0 });
    expect(await t.get('/api/v1/admin/ingest', ADMIN_TOKEN)).toMatchObject({
      status: 200,
      body: { connected: true, uncommittedReadings: 0 },
    });
    expect(await t.get('/api/v1/devices', ADMIN_TOKEN)).toMatchObject({ status: 200 });
  });

  it('lets anyone in, as admin, with auth.openAccess', async () => {
    t = await startTestApp({ auth: { openAccess: true } });
    expect(await t.get('/api/v1/devices', null)).toMatchObject({ status: 200, body: { devices: [] } });
    expect(await t.get('/api/v1/admin/ingest', null)).toMatchObject({ status: 200 });
  });

  it('protects /metrics too with auth.protectMetrics', async () => {
    t = await startTestApp({ auth: { protectMetrics: true } });
    expect((await t.get('/metrics', null)).status).toBe(401);
    expect((await t.get('/metrics', READ_TOKEN)).status).toBe(200);
    expect((await t.get('/healthz', null)).status).toBe(200);
  });

  it('limits requests per token: past the limit 429 with retry-after, other tokens and the probes unaffected', async () => {
    t = await startTestApp({ rateLimit: { perMinute: 3 } });
    for (let i = 0; i < 3; i++) expect((await t.get('/api/v1/devices')).status).toBe(200);
    const limited = await t.get('/api/v1/devices');
    expect(limited).toMatchObject({
      status: 429,
      body: {
        statusCode: 429,
        code: 'API_RATE_LIMITED',
        error: 'Too Many Requests',
        message: expect.stringMatching(/^rate limit of 3 requests per minute/) as string,
      },
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await t.get('/api/v1/devices', ADMIN_TOKEN)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await t.get('/healthz', null)).status).toBe(200);
  });

  it('takes a rate limit per token from its config entry', async () => {
    t = await startTestApp({
      auth: { tokens: [{ name: 'script', sha256: hashToken(READ_TOKEN), scopes: ['read'], rateLimitPerMinute: 1 }] },
    });
    expect((await t.get('/api/v1/devices')).status).toBe(200);
    expect((await t.get('/api/v1/devices')).status).toBe(429);
  });
});

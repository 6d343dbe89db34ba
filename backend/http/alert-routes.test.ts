import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActiveAlert } from '../alerts/types.js';
import { ADMIN_TOKEN, type AlertsTestApp, READ_TOKEN, T0, buildAlertsTestApp, transition } from '../../test/helpers/fake-alerts-service.js';

const anyString = expect.any(String) as string;
const HOT = { id: 'hot', kind: 'threshold', match: { device: 'furnace-*' }, severity: 'critical', above: 1200 };

const activeAlert = (id: string): ActiveAlert => ({
  id,
  rule: 'overheat',
  device: 'furnace-1',
  sensor: 'tc1',
  phase: 'firing',
  severity: 'critical',
  labels: { site: 'north' },
  since: T0,
  value: 1250,
  message: 'tc1 above 1200 C',
  silenced: false,
});

describe('alert routes: /api/v1/alerts, /silences, /rules', () => {
  let t: AlertsTestApp;
  beforeEach(async () => {
    t = await buildAlertsTestApp();
  });
  afterEach(() => t.app.close());

  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    options: { token?: string | null; body?: unknown; type?: string } = {},
  ) => {
    const { token = method === 'GET' ? READ_TOKEN : ADMIN_TOKEN, body, type } = options;
    const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
    if (type !== undefined) headers['content-type'] = type;
    const payload = typeof body === 'string' || body === undefined ? body : JSON.stringify(body);
    if (payload !== undefined && type === undefined) headers['content-type'] = 'application/json';
    const response = await t.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    const json = response.headers['content-type']?.toString().startsWith('application/json');
    return {
      status: response.statusCode,
      body: (json ? response.json() : response.body) as Record<string, unknown> & { message?: string },
    };
  };

  it('pages the history newest first, with seq and silenced, and filters by state, device and time', async () => {
    t.alerts.append(
      ...Array.from({ length: 5 }, (_, i) =>
        transition(i + 1, { to: i % 2 ? 'resolved' : 'firing', device: i === 4 ? 'annealer' : 'furnace-1' }),
      ),
    );
    const first = await call('GET', '/api/v1/alerts?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([
      { ...transition(5, { to: 'firing', device: 'annealer' }), seq: 5, silenced: false },
      { ...transition(4, { to: 'resolved' }), seq: 4, silenced: false },
    ]);
    const seqs = [5, 4];
    let next = first.body.next as string | null;
    while (next !== null) {
      const page = await call('GET', `/api/v1/alerts?limit=2&cursor=${next}`);
      seqs.push(...(page.body.items as Array<{ seq: number }>).map((item) => item.seq));
      next = page.body.next as string | null;
    }
    expect(seqs).toEqual([5, 4, 3, 2, 1]);

    const filtered = await call(
      'GET',
      `/api/v1/alerts?state=firing&device=furnace-1&from=${T0 + 2000}&to=${new Date(T0 + 5000).toISOString()}`,
    );
    expect((filtered.body.items as Array<{ seq: number }>).map((item) => item.seq)).toEqual([3]);
    expect(filtered.body.next).toBeNull();
  });

  it.each([
    ['state=burning', /^state: must be one of inactive, pending, firing, resolved$/],
    ['device=bad.id', /^device: /],
    ['from=yesterday', /^from: /],
    [`from=${T0 + 10}&to=${T0}`, /^from: .* is not before to/],
    ['limit=101', /^limit: must be <= 100$/],
    ['order=asc', /^querystring: unknown parameter "order"$/],
    ['cursor=abc', /^cursor: not a cursor of this query/],
  ])('refuses GET /alerts?%s with 400 naming the parameter', async (query, message) => {
    const { status, body } = await call('GET', `/api/v1/alerts?${query}`);
    expect(status).toBe(400);
    expect(body).toStrictEqual({ statusCode: 400, code: 'API_BAD_REQUEST', error: 'Bad Request', message: anyString });
    expect(body.message).toMatch(message);
  });

  it('refuses a history cursor replayed with other filters', async () => {
    t.alerts.append(transition(1), transition(2), transition(3));
    const { body } = await call('GET', '/api/v1/alerts?limit=1');
    const replayed = await call('GET', `/api/v1/alerts?limit=1&device=furnace-1&cursor=${String(body.next)}`);
    expect(replayed).toMatchObject({ status: 400, body: { message: expect.stringMatching(/^cursor: /) as string } });
  });

  it('lists active alerts and acknowledges one in the name of the token', async () => {
    t.alerts.activeAlerts = [activeAlert('ev-7')];
    expect(await call('GET', '/api/v1/alerts/active')).toEqual({ status: 200, body: { items: [activeAlert('ev-7')] } });
    const acked = await call('POST', '/api/v1/alerts/ev-7/ack', { body: { comment: 'on it' } });
    expect(acked.status).toBe(200);
    expect(acked.body).toEqual({
      ...activeAlert('ev-7'),
      acknowledged: { by: 'operator', at: expect.any(Number) as number, comment: 'on it' },
    });
    // No body at all is fine too.
    expect((await call('POST', '/api/v1/alerts/ev-7/ack')).status).toBe(200);
  });

  it('answers an ack of an unknown alert with 404 API_ALERT_NOT_FOUND naming the id', async () => {
    const { status, body } = await call('POST', '/api/v1/alerts/ev-99/ack');
    expect(status).toBe(404);
    expect(body).toStrictEqual({
      statusCode: 404,
      code: 'API_ALERT_NOT_FOUND',
      error: 'Not Found',
      message: 'id: no pending or firing alert has the id "ev-99"',
    });
  });

  it('creates, lists and deletes silences; times as Unix ms or RFC 3339', async () => {
    const endsAt = Date.now() + 3_600_000;
    const created = await call('POST', '/api/v1/silences', {
      body: { matchers: { device: 'furnace-*' }, endsAt: new Date(endsAt).toISOString(), comment: 'relining' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      matchers: { device: 'furnace-*', sensor: '*', rule: '*' },
      endsAt,
      createdBy: 'operator',
      comment: 'relining',
    });
    const later = await call('POST', '/api/v1/silences', {
      body: { matchers: { rule: 'stale' }, startsAt: endsAt, endsAt: endsAt + 1000 },
    });
    expect(later).toMatchObject({ status: 201, body: { startsAt: endsAt, endsAt: endsAt + 1000 } });
    expect(t.alerts.silenceList).toHaveLength(2);

    t.alerts.silenceList.push({ ...t.alerts.silenceList[0]!, id: 'old', endsAt: Date.now() - 1 });
    const ids = async (query: string) =>
      ((await call('GET', `/api/v1/silences${query}`)).body.items as Array<{ id: string }>).map((s) => s.id);
    expect(await ids('')).toEqual([created.body.id, later.body.id]);
    expect(await ids('?expired=true')).toEqual([created.body.id, later.body.id, 'old']);
    expect(await ids('?expired=false')).toEqual([created.body.id, later.body.id]);

    expect(t.alerts.silencing({ device: 'furnace-1', sensor: 'tc1', rule: 'overheat' }).map((s) => s.id)).toEqual([created.body.id]);
    const before = Date.now();
    expect((await call('DELETE', `/api/v1/silences/${String(created.body.id)}`)).status).toBe(204);
    // Ended, not deleted: listed with the expired ones, ending about now, and silencing nothing.
    expect(await ids('')).toEqual([later.body.id]);
    const listed = ((await call('GET', '/api/v1/silences?expired=true')).body.items as Array<{ id: string; endsAt: number }>).find(
      (s) => s.id === created.body.id,
    );
    expect(listed?.endsAt).toBeGreaterThanOrEqual(before);
    expect(listed?.endsAt).toBeLessThanOrEqual(Date.now());
    expect(t.alerts.silencing({ device: 'furnace-1', sensor: 'tc1', rule: 'overheat' })).toEqual([]);
    for (const id of [String(created.body.id), 'old', 'sil-99']) {
      expect(await call('DELETE', `/api/v1/silences/${id}`)).toMatchObject({
        status: 404,
        body: { code: 'API_SILENCE_NOT_FOUND', message: `id: no active or future silence has the id "${id}"` },
      });
    }
  });

  it.each([
    ['no endsAt', { matchers: { device: 'x' } }, /^body: must have required property 'endsAt'$/],
    ['a bad glob', { matchers: { device: 'a b' }, endsAt: T0 * 2 }, /^matchers\.device: /],
    ['an unknown matcher', { matchers: { site: 'x' }, endsAt: T0 * 2 }, /unknown parameter "site"/],
    ['no matcher', { matchers: {}, endsAt: T0 * 2 }, /^matchers: give at least one/],
    ['an endsAt in the past', { matchers: { device: 'x' }, endsAt: T0 }, /^endsAt: .* not in the future/],
    ['an endsAt before startsAt', { matchers: { device: 'x' }, startsAt: T0 * 2, endsAt: T0 * 2 - 1 }, /^endsAt: .* not after startsAt/],
    ['a malformed time', { matchers: { device: 'x' }, endsAt: 'tomorrow' }, /^endsAt: "tomorrow" is neither/],
    ['a time past the last date', { matchers: { device: 'x' }, endsAt: 9e15 }, /^endsAt: 9000000000000000 is past the largest time/],
  ])('refuses a silence with %s with 400 naming the field', async (_what, body, message) => {
    const response = await call('POST', '/api/v1/silences', { body });
    expect(response).toMatchObject({ status: 400, body: { code: 'API_BAD_REQUEST' } });
    expect(response.body.message).toMatch(message);
  });

  it('answers the rules and their source; replaces them from JSON or YAML', async () => {
    expect(await call('GET', '/api/v1/rules')).toEqual({
      status: 200,
      body: { source: '/etc/furnace/rules.yaml', loadedAt: T0, rules: [] },
    });
    const json = await call('PUT', '/api/v1/rules', { body: { rules: [HOT] } });
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ rules: [{ ...HOT, match: { device: 'furnace-*', sensor: '*' }, labels: {}, for: 0, keepFiringFor: 0 }] });
    expect(t.alerts.calls.replaceRules.at(-1)?.by).toBe('operator');

    for (const type of ['application/yaml', 'text/yaml; charset=utf-8']) {
      const yaml = await call('PUT', '/api/v1/rules', {
        type,
        body: '- { id: warm, kind: threshold, match: { device: oven-1 }, severity: info, above: 60 }\n',
      });
      expect(yaml).toMatchObject({ status: 200, body: { rules: [{ id: 'warm', above: 60 }] } });
    }
    await call('PUT', '/api/v1/rules', {
      type: 'application/yaml',
      body: 'rules:\n  - { id: cold, kind: offline, match: { device: "*" }, severity: warning }\n',
    });
    expect(((await call('GET', '/api/v1/rules')).body.rules as Array<{ id: string }>).map((r) => r.id)).toEqual(['cold']);
  });

  it('refuses a rule set with 400 API_RULES_INVALID listing every problem, naming rule and field', async () => {
    const { status, body } = await call('PUT', '/api/v1/rules', {
      body: { rules: [HOT, { ...HOT, id: 'loud', severity: 'loud', above: 'x' }] },
    });
    expect(status).toBe(400);
    expect(body).toMatchObject({
      statusCode: 400,
      code: 'API_RULES_INVALID',
      error: 'Bad Request',
      message: expect.stringMatching(/^rules: refused whole \(2 problems\)/) as string,
    });
    expect(body.problems).toEqual([
      expect.stringMatching(/^rules\[1\]\.severity \(rule loud\): /),
      expect.stringMatching(/^rules\[1\]\.above \(rule loud\): /),
    ]);

    const yaml = await call('PUT', '/api/v1/rules', { type: 'application/yaml', body: 'rules: [ {id: x\n' });
    expect(yaml).toMatchObject({
      status: 400,
      body: { code: 'API_RULES_INVALID', problems: [expect.stringMatching(/^not valid YAML: /)] },
    });
    const empty = await call('PUT', '/api/v1/rules', { type: 'application/yaml', body: '' });
    expect(empty).toMatchObject({ status: 400, body: { code: 'API_RULES_INVALID', problems: [expect.stringMatching(/^body: empty/)] } });
    expect(t.alerts.ruleSet.rules).toEqual([]);
  });

  it('answers 409 API_RULES_READ_ONLY when the rules live in the config', async () => {
    t.alerts.readOnly = true;
    expect(await call('PUT', '/api/v1/rules', { body: { rules: [] } })).toEqual({
      status: 409,
      body: {
        statusCode: 409,
        code: 'API_RULES_READ_ONLY',
        error: 'Conflict',
        message: 'the rules are inline in backend.yaml (alerts.rules)',
      },
    });
  });

  it.each([
    ['GET', '/api/v1/alerts'],
    ['GET', '/api/v1/alerts/active'],
    ['GET', '/api/v1/silences'],
    ['GET', '/api/v1/rules'],
    ['POST', '/api/v1/alerts/ev-1/ack'],
    ['POST', '/api/v1/silences'],
    ['DELETE', '/api/v1/silences/sil-1'],
    ['PUT', '/api/v1/rules'],
  ] as const)('%s %s needs a token (401)', async (method, url) => {
    expect(await call(method, url, { token: null })).toMatchObject({ status: 401, body: { code: 'API_UNAUTHORIZED' } });
  });

  it.each([
    ['POST', '/api/v1/alerts/ev-1/ack', undefined],
    ['POST', '/api/v1/silences', { matchers: { device: 'x' }, endsAt: T0 * 2 }],
    ['DELETE', '/api/v1/silences/sil-1', undefined],
    ['PUT', '/api/v1/rules', { rules: [] }],
  ] as const)('%s %s needs the admin scope (403 with a read token)', async (method, url, body) => {
    expect(await call(method, url, { token: READ_TOKEN, body })).toMatchObject({ status: 403, body: { code: 'API_FORBIDDEN' } });
    expect(t.alerts.silenceList).toEqual([]);
    expect(t.alerts.calls.replaceRules).toEqual([]);
  });

  it('documents every alert route in the OpenAPI document', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, { parameters?: Array<{ name: string }> }>>;
    };
    for (const path of [
      '/api/v1/alerts',
      '/api/v1/alerts/active',
      '/api/v1/alerts/{id}/ack',
      '/api/v1/silences',
      '/api/v1/silences/{id}',
      '/api/v1/rules',
      '/api/v1/alerts/stream',
      '/api/v1/stream',
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths['/api/v1/alerts']?.get?.parameters?.map((p) => p.name)).toEqual(['state', 'device', 'from', 'to', 'limit', 'cursor']);
    expect(Object.keys(doc.paths['/api/v1/rules'] ?? {})).toEqual(expect.arrayContaining(['get', 'put']));
  });
});

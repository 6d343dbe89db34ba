// The dashboard's DOM-free parts, under Node: the SSE parser its streams use, the chart's
// bounded live window, and which alarms need attention. The page as a whole is tested in a
// real browser (dashboard-browser.test.ts).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmOrder, needsAttention } from '../backend/dashboard/alarm-order.js';
import type { ActiveAlert } from '../backend/dashboard/api-types.js';
import { levelsFor, severityOf, thresholdRulesFor } from '../backend/dashboard/rules.js';
import { SeriesWindow } from '../backend/dashboard/series-window.js';
import { SseParser } from '../backend/dashboard/sse-parser.js';

describe('SseParser', () => {
  it('parses events split anywhere, CRLF or LF, and keeps the last id for the reconnect', () => {
    const parser = new SseParser();
    const text = 'id: e-1\r\nevent: reading\r\ndata: {"a":1}\r\n\r\n: ping\n\nid: e-2\n\nevent: reading\ndata: x\ndata: y\n\n';
    const events = [];
    for (let i = 0; i < text.length; i += 3) events.push(...parser.feed(text.slice(i, i + 3)));
    expect(events).toEqual([
      { event: 'reading', data: '{"a":1}', id: 'e-1' },
      { event: 'reading', data: 'x\ny', id: 'e-2' },
    ]);
    expect(parser.lastEventId).toBe('e-2');
  });
});

describe('SeriesWindow', () => {
  it('folds live readings into the newest bucket, skips what history already holds, and stays bounded', () => {
    const window = new SeriesWindow(60_000, 10);
    window.load(
      [
        { t: 0, value: 10, min: 5, max: 20, count: 60 },
        { t: 60_000, value: 11, count: 3 },
      ],
      65_000,
    );
    expect(window.add(64_000, 99)).toBe(false); // before the history's end: counted already
    expect(window.add(70_000, 15)).toBe(true);
    expect(window.data.map((series) => series.at(-1))).toEqual([60_000, 12, 11, 15]);
    for (let minute = 2; minute < 100; minute++) window.add(minute * 60_000, minute);
    expect(window.length).toBe(10);
    window.dropBefore(95 * 60_000);
    expect(window.x).toEqual([95, 96, 97, 98, 99].map((m) => m * 60_000));
  });
});

describe('alarm order', () => {
  const alert = (overrides: Partial<ActiveAlert>): ActiveAlert => ({
    id: 'a',
    rule: 'overheat',
    device: 'f',
    phase: 'firing',
    severity: 'critical',
    since: 1000,
    message: '',
    silenced: false,
    ...overrides,
  });

  it('an alarm acknowledged while pending needs attention again once it fires', () => {
    expect(needsAttention(alert({ acknowledged: { by: 'ops', at: 2000 } }))).toBe(false);
    expect(needsAttention(alert({ since: 3000, acknowledged: { by: 'ops', at: 2000 } }))).toBe(true);
    expect(needsAttention(alert({}))).toBe(true);
  });

  it('lists firing and unacknowledged alarms first, then by severity and age', () => {
    const list = [
      alert({ id: 'acked', acknowledged: { by: 'ops', at: 2000 } }),
      alert({ id: 'pending', phase: 'pending' }),
      alert({ id: 'warning', severity: 'warning', since: 10 }),
      alert({ id: 'critical', since: 500 }),
    ];
    expect(list.sort(alarmOrder).map((a) => a.id)).toEqual(['critical', 'warning', 'acked', 'pending']);
  });
});

describe('rule levels', () => {
  it('draws the threshold and clear levels of the matching rules, and colours by the worst level passed', () => {
    const rules = thresholdRulesFor(
      [
        { kind: 'threshold', id: 'hot', match: { device: 'furnace-*', sensor: 'tc1' }, severity: 'warning', above: 650, clearAbove: 630 },
        { kind: 'threshold', id: 'very-hot', match: { device: 'furnace-1', sensor: '*' }, severity: 'critical', above: 700 },
        { kind: 'threshold', id: 'other', match: { device: 'kiln-1', sensor: 'tc1' }, severity: 'critical', above: 100 },
        { kind: 'stale', id: 'quiet', match: { device: '*', sensor: '*' }, severity: 'warning' },
      ],
      'furnace-1',
      'tc1',
    );
    expect(levelsFor(rules).map((l) => [l.value, l.kind])).toEqual([
      [650, 'threshold'],
      [630, 'clear'],
      [700, 'threshold'],
    ]);
    expect([600, 660, 710].map((v) => severityOf(rules, v))).toEqual(['ok', 'warning', 'critical']);
  });
});

describe('index.html', () => {
  it('preloads every module of the page (api-types holds types only), so the first paint does not wait on one import level at a time', () => {
    const dir = join(import.meta.dirname, '..', 'backend', 'dashboard');
    const modules = readdirSync(dir).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !['main.ts', 'api-types.ts'].includes(name),
    );
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    const preloaded = [...html.matchAll(/rel="modulepreload" href="\/dashboard\/([\w-]+)\.js"/g)].map((m) => `${m[1]}.ts`);
    expect(preloaded.sort()).toEqual(modules.sort());
  });
});

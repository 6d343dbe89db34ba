import { Api } from './api.js';
import type { ActiveAlert, DeviceDetail, DeviceListItem, Rule, Severity } from './api-types.js';
import { AlarmList } from './alarms.js';
import { byId, h, replace } from './dom.js';
import { Furnace } from './furnace.js';
import { moreSevere } from './rules.js';
import { forgetToken, signIn, storedToken } from './token.js';

// The dashboard: a tile and a chart per furnace, and the alarm list. Everything comes from the
// public API of the backend that served the page. While the tab is hidden nothing runs: the
// streams close and the timers stop; coming back resumes the streams where they left off.

const DEVICES_EVERY_MS = 30_000;
/** Marked once the page first shows a furnace's value and drawn history: the "first paint with data". */
export const FIRST_DATA_MARK = 'dashboard:first-data-paint';

const api = new Api(storedToken());
const furnaces = new Map<string, Furnace>();
let alarms: AlarmList | undefined;
let rules: readonly Rule[] = [];
let ticker: number | undefined;
let devicePoll: number | undefined;
let running = false;

function status(text: string): void {
  byId('status').textContent = text;
}

function markFirstData(furnace: Furnace): void {
  if (performance.getEntriesByName(FIRST_DATA_MARK).length > 0 || furnace.tile.value === undefined) return;
  performance.mark(FIRST_DATA_MARK);
  document.body.dataset.firstDataMs = String(Math.round(performance.getEntriesByName(FIRST_DATA_MARK)[0]?.startTime ?? 0));
}

/** Adds the furnaces not shown yet; `ruleSet` (when given) replaces the rules first. */
async function addDevices(ruleSet?: Promise<readonly Rule[]>): Promise<void> {
  const [{ devices }, loadedRules] = await Promise.all([api.get<{ devices: DeviceListItem[] }>('/api/v1/devices'), ruleSet]);
  if (loadedRules !== undefined) rules = loadedRules;
  const added = devices.filter((d) => !furnaces.has(d.device));
  const details = await Promise.all(added.map((d) => api.get<DeviceDetail>(`/api/v1/devices/${encodeURIComponent(d.device)}`)));
  const list = byId('furnaces');
  if (furnaces.size === 0 && details.length === 0) replace(list, h('p', { class: 'note' }, 'No furnace has reported yet.'));
  for (const detail of details) {
    if (furnaces.size === 0) replace(list);
    const furnace = new Furnace(api, detail.device, detail, rules);
    furnace.chart.onDrawn = () => markFirstData(furnace);
    furnaces.set(detail.device, furnace);
    list.append(furnace.element);
    furnace.render(Date.now());
    if (running) furnace.start();
  }
}

function colourByAlarms(active: readonly ActiveAlert[]): void {
  const levels = new Map<string, Severity | 'ok'>();
  for (const alert of active)
    if (alert.phase === 'firing') levels.set(alert.device, moreSevere(levels.get(alert.device) ?? 'ok', alert.severity));
  for (const [device, furnace] of furnaces) furnace.setAlertLevel(levels.get(device) ?? 'ok');
}

function tick(): void {
  const now = Date.now();
  for (const furnace of furnaces.values()) furnace.render(now);
  alarms?.tick();
}

function resume(): void {
  if (running) return;
  running = true;
  for (const furnace of furnaces.values()) furnace.start();
  alarms?.start();
  tick();
  ticker = window.setInterval(tick, 1000);
  devicePoll = window.setInterval(
    () => void addDevices().catch((error: unknown) => console.warn('device list failed', error)),
    DEVICES_EVERY_MS,
  );
}

function pause(): void {
  running = false;
  for (const furnace of furnaces.values()) furnace.stop();
  alarms?.stop();
  clearInterval(ticker);
  clearInterval(devicePoll);
}

async function boot(): Promise<void> {
  status('connecting…');
  const me = await signIn(api);
  const canWrite = me.scopes.includes('admin');
  api.onUnauthorized = () => {
    // The token was revoked while the page was open: ask again from a clean start.
    forgetToken();
    location.reload();
  };
  status(me.openAccess ? 'open access' : `signed in as ${me.name}${canWrite ? '' : ' (read only)'}`);
  const signOut = byId<HTMLButtonElement>('sign-out');
  signOut.hidden = me.openAccess;
  signOut.onclick = () => {
    forgetToken();
    location.reload();
  };
  document.body.classList.toggle('read-only', !canWrite);
  alarms = new AlarmList(api, canWrite);
  alarms.onActive = colourByAlarms;
  byId('alarms').append(alarms.element);
  // The rules and the furnace list at once: the first paint waits on both.
  const devices = addDevices(
    api.get<{ rules: Rule[] }>('/api/v1/rules').then(
      (answer) => answer.rules,
      () => [],
    ),
  );
  // The alarms are worth showing even when the furnaces cannot be listed.
  await devices.catch((error: unknown) =>
    replace(byId('furnaces'), h('p', { class: 'note' }, `furnaces could not be loaded: ${(error as Error).message}`)),
  );
  document.addEventListener('visibilitychange', () => (document.hidden ? pause() : resume()));
  if (!document.hidden) resume();
}

boot().catch((error: unknown) => {
  status(`the dashboard could not start: ${(error as Error).message}`);
  console.error(error);
});

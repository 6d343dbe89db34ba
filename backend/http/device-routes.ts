import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors.js';
import type { DeviceRegistry, RegistryEntry } from '../registry/device-registry.js';
import { type DeviceSummary, type ReadingStore, type StoredReading, trustedTime } from '../store/reading-store.js';
import { DeviceDetail, DeviceListItem, DeviceParams, LatestReading, errorResponses } from './schemas.js';

export interface DeviceRouteDeps {
  store: ReadingStore;
  registry: DeviceRegistry;
  staleAfterMs: number;
}

const readRoute = { access: 'read' as const };
const security = [{ bearer: [] }];

/** 404 naming the parameter; shared by every route under /devices/{device}. */
export function deviceNotFound(device: string): ApiError {
  return new ApiError('API_DEVICE_NOT_FOUND', `device: no device ${JSON.stringify(device)} has sent readings or a status`);
}

/** Age from the source time, or from arrival when the source's clock was too far ahead to believe (see trustedTime). */
function withAge(reading: StoredReading, now: number) {
  const time = trustedTime(reading);
  return { ...reading, ageMs: now - time, ageFrom: time === reading.ts ? ('ts' as const) : ('receivedAt' as const) };
}

export function registerDeviceRoutes(app: FastifyInstance, deps: DeviceRouteDeps): void {
  addDeviceListRoutes(app, deps);
  addLatestRoute(app, deps);
}

/** GET /devices and GET /devices/:device. */
function addDeviceListRoutes(app: FastifyInstance, { store, registry, staleAfterMs }: DeviceRouteDeps): void {
  app.get(
    '/api/v1/devices',
    {
      config: readRoute,
      schema: {
        tags: ['devices'],
        summary: 'every device seen: readings stored, first and last seen, and its status',
        security,
        response: { 200: Type.Object({ devices: Type.Array(DeviceListItem) }), ...errorResponses(401, 403, 429) },
      },
    },
    async () => {
      const summaries = new Map((await store.listDevices()).map((summary) => [summary.device, summary]));
      const entries = new Map(registry.list().map((entry) => [entry.device, entry]));
      const devices = [...new Set([...summaries.keys(), ...entries.keys()])].sort();
      return {
        devices: devices.map((device) => ({ ...counts(device, summaries.get(device)), state: entries.get(device)?.status?.state ?? null })),
      };
    },
  );

  app.get<{ Params: DeviceParams }>(
    '/api/v1/devices/:device',
    {
      config: readRoute,
      schema: {
        tags: ['devices'],
        summary: 'one device: status, sensors with their health, last reading and staleness',
        security,
        params: DeviceParams,
        response: { 200: DeviceDetail, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { device } = request.params;
      const [summary, latest] = await Promise.all([store.device(device), store.latest(device)]);
      const entry = registry.get(device);
      if (!summary && !entry) throw deviceNotFound(device);
      return { ...counts(device, summary), status: statusOf(entry), sensors: sensorsOf(entry, latest, Date.now(), staleAfterMs) };
    },
  );
}

/** GET /devices/:device/latest. */
function addLatestRoute(app: FastifyInstance, { store }: DeviceRouteDeps): void {
  app.get<{ Params: DeviceParams }>(
    '/api/v1/devices/:device/latest',
    {
      config: readRoute,
      schema: {
        tags: ['devices'],
        summary: 'the newest reading of each sensor, with its age',
        description:
          'Newest by source time (ts). A reading stamped more than 5 minutes ahead of when the backend received it comes from a ' +
          'device clock that is wrong: it is stored as sent, but counts as taken when it arrived, so it never hides the readings ' +
          'that arrive after it, and its age runs from its arrival (ageFrom: receivedAt).',
        security,
        params: DeviceParams,
        response: {
          200: Type.Object({ device: Type.String(), readings: Type.Array(LatestReading) }),
          ...errorResponses(400, 401, 403, 404, 429),
        },
      },
    },
    async (request) => {
      const { device } = request.params;
      const readings = await store.latest(device);
      if (readings.length === 0) throw deviceNotFound(device);
      const now = Date.now();
      return { device, readings: readings.map((reading) => withAge(reading, now)) };
    },
  );
}

function counts(device: string, summary: DeviceSummary | undefined) {
  return { device, firstSeen: summary?.firstSeen ?? null, lastSeen: summary?.lastSeen ?? null, readings: summary?.readings ?? 0 };
}

function statusOf(entry: RegistryEntry | undefined) {
  const status = entry?.status;
  if (!status) return null;
  return { state: status.state, ts: status.ts, receivedAt: status.receivedAt, boot: status.boot, agentVersion: status.agentVersion };
}

/** Every sensor the device announced, reported health for, or sent readings from. */
function sensorsOf(entry: RegistryEntry | undefined, latest: StoredReading[], now: number, staleAfterMs: number) {
  const announced = new Map((entry?.status?.sensors ?? []).map((info) => [info.id, info]));
  const health = new Map(entry?.sensorHealth.map((record) => [record.sensor, record]));
  const last = new Map(latest.map((reading) => [reading.sensor, reading]));
  const ids = [...new Set([...announced.keys(), ...health.keys(), ...last.keys()])].sort();
  return ids.map((sensor) => {
    const info = announced.get(sensor);
    const state = health.get(sensor);
    const reading = last.get(sensor);
    return {
      sensor,
      unit: info?.unit ?? reading?.unit,
      min: info?.min,
      max: info?.max,
      health: state ? { state: state.state, since: state.since, reason: state.reason } : null,
      latest: reading ? withAge(reading, now) : null,
      stale: !reading || now - trustedTime(reading) > staleAfterMs,
    };
  });
}

import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ClockState, Quality, SEGMENT_PATTERN } from '../../contract/index.js';
import { ApiError } from '../errors.js';
import type { ReadingStore } from '../store/reading-store.js';

const DeviceParams = Type.Object({
  device: Type.String({ pattern: SEGMENT_PATTERN, description: 'device id: 1 to 64 of A-Z a-z 0-9 _ -' }),
});

const DeviceList = Type.Object({
  devices: Type.Array(
    Type.Object({
      device: Type.String(),
      firstSeen: Type.Integer({ description: 'first reading stored, Unix ms' }),
      lastSeen: Type.Integer({ description: 'last batch received, Unix ms' }),
      readings: Type.Integer({ description: 'readings stored' }),
    }),
  ),
});

const LatestReadings = Type.Object({
  device: Type.String(),
  readings: Type.Array(
    Type.Object({
      sensor: Type.String(),
      seq: Type.Integer(),
      boot: Type.String(),
      ts: Type.Integer({ description: 'time at the source, Unix ms' }),
      value: Type.Union([Type.Number(), Type.Null()]),
      unit: Type.String(),
      quality: Quality,
      clock: ClockState,
      replay: Type.Boolean(),
      receivedAt: Type.Integer({ description: 'time stored, Unix ms' }),
      ageMs: Type.Integer({ description: 'now minus ts: how stale the value is' }),
    }),
  ),
});

export function registerDeviceRoutes(app: FastifyInstance, store: ReadingStore): void {
  app.get('/api/v1/devices', { schema: { response: { 200: DeviceList } } }, async () => ({
    devices: await store.listDevices(),
  }));

  app.get<{ Params: { device: string } }>(
    '/api/v1/devices/:device/latest',
    { schema: { params: DeviceParams, response: { 200: LatestReadings } } },
    async (request) => {
      const { device } = request.params;
      const readings = await store.latest(device);
      if (readings.length === 0) {
        throw new ApiError('API_DEVICE_NOT_FOUND', `no readings from device ${JSON.stringify(device)}`);
      }
      const now = Date.now();
      return { device, readings: readings.map((reading) => ({ ...reading, ageMs: now - reading.ts })) };
    },
  );
}

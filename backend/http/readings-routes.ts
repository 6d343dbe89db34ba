import type { FastifyInstance } from 'fastify';
import type { BackendConfig } from '../config.js';
import { ApiError } from '../errors.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { ReadingStore } from '../store/reading-store.js';
import { aggregatePageJson } from './aggregate-json.js';
import { aggregateBand } from './band-aggregate.js';
import { bucketWidthFor } from './bucket-width.js';
import { decodeCursor, encodeCursor, fingerprint } from './cursor.js';
import { deviceNotFound } from './device-routes.js';
import { type AggParam, DeviceParams, GapsPage, GapsQuery, ReadingsPage, ReadingsQuery, errorResponses } from './schemas.js';
import { parseEvery, parseRange } from './time-params.js';

export interface ReadingsRouteDeps {
  store: ReadingStore;
  registry: DeviceRegistry;
  query: BackendConfig['query'];
}

const readRoute = { access: 'read' as const };
/** What fastify itself answers JSON with. */
const JSON_TYPE = 'application/json; charset=utf-8';
const security = [{ bearer: [] }];

export function registerReadingsRoutes(app: FastifyInstance, deps: ReadingsRouteDeps): void {
  addReadingsRoute(app, deps);
  addGapsRoute(app, deps);
}

/** 404 for a device neither stored nor registered. */
async function assertKnownDevice({ store, registry }: ReadingsRouteDeps, device: string): Promise<void> {
  if (!(await store.device(device)) && !registry.get(device)) throw deviceNotFound(device);
}

function addReadingsRoute(app: FastifyInstance, deps: ReadingsRouteDeps): void {
  const { store, query: limits } = deps;
  app.get<{ Params: DeviceParams; Querystring: ReadingsQuery }>(
    '/api/v1/devices/:device/readings',
    {
      config: readRoute,
      schema: {
        tags: ['readings'],
        summary: 'raw readings, or aggregates per bucket with every= (or points=) and agg=; paged with cursor',
        description:
          'Without `every`: raw readings in (ts, sensor, boot, seq) order. With `every`: one point per bucket and sensor; ' +
          'buckets start at multiples of `every` since the Unix epoch, so from and to are rounded outward to whole buckets, ' +
          'and the answer comes from per-minute or per-hour rollups when `every` is a whole number of them. Empty buckets are ' +
          'left out. A page holds at most `limit` items; when more follow, `truncated` is true and `nextCursor` is set. ' +
          'For a chart: `points=N` instead of `every` lets the server pick the bucket width for about N points (the page limit ' +
          'then defaults to query.maxLimit), and `agg=band` answers the mean with the min and max of each bucket, so a long ' +
          'range drawn at one point per pixel keeps its peaks.',
        security,
        params: DeviceParams,
        querystring: ReadingsQuery(limits.maxLimit),
        response: { 200: ReadingsPage, ...errorResponses(400, 401, 403, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const { device } = request.params;
      const q = request.query;
      const range = parseRange(q, Date.now(), limits.maxRangeDays);
      if (q.every !== undefined && q.points !== undefined) throw new ApiError('API_BAD_REQUEST', 'points: give every or points, not both');
      const bucketed = q.every !== undefined || q.points !== undefined;
      if (q.agg !== undefined && !bucketed)
        throw new ApiError('API_BAD_REQUEST', 'agg: needs every (the bucket width), e.g. every=1m, or points');
      const limit = q.limit ?? (q.points !== undefined ? limits.maxLimit : limits.defaultLimit);
      await assertKnownDevice(deps, device);
      const signal = request.signal;
      if (!bucketed) return rawPage(store, { device, sensor: q.sensor, ...range, limit, cursor: q.cursor }, signal);
      const every =
        q.every !== undefined ? parseEvery(q.every, limits.maxRangeDays * 86_400_000) : bucketWidthFor(range.from, range.to, q.points ?? 1);
      const json = await aggregatePage(
        store,
        { device, sensor: q.sensor, ...range, every, agg: q.agg ?? 'mean', limit, cursor: q.cursor },
        signal,
      );
      // Already JSON (aggregate-json.ts says why): fastify sends a string of a JSON content type as it is.
      void reply.type(JSON_TYPE);
      return json;
    },
  );
}

interface PageAsked {
  device: string;
  sensor: string | undefined;
  from: number;
  to: number;
  limit: number;
  cursor: string | undefined;
}

async function rawPage(store: ReadingStore, asked: PageAsked, signal: AbortSignal) {
  const { device, sensor, from, to, limit } = asked;
  const key = fingerprint(['raw', device, sensor, from, to]);
  const after = asked.cursor === undefined ? undefined : decodeCursor(asked.cursor, 'raw', key);
  const page = await store.rawRange({ device, sensor, from, to, limit, after }, { signal });
  return {
    device,
    sensor,
    from,
    to,
    source: 'raw',
    readings: page.items,
    truncated: page.truncated,
    nextCursor: page.next && encodeCursor({ k: 'raw', p: page.next }, key),
  };
}

/** One point per bucket and sensor, as a JSON string. */
async function aggregatePage(
  store: ReadingStore,
  asked: PageAsked & { every: number; agg: AggParam },
  signal: AbortSignal,
): Promise<string> {
  const { device, sensor, every, agg, limit } = asked;
  // Whole buckets only: the rollups hold whole minutes and hours, so the answer is exact either way.
  const from = asked.from - (asked.from % every);
  const to = Math.ceil(asked.to / every) * every;
  const key = fingerprint(['agg', device, sensor, from, to, every, agg]);
  const after = asked.cursor === undefined ? undefined : decodeCursor(asked.cursor, 'agg', key);
  const query = { device, sensor, from, to, every, limit, after };
  const page = agg === 'band' ? await aggregateBand(store, query, { signal }) : await store.aggregate({ ...query, agg }, { signal });
  const nextCursor = page.next && encodeCursor({ k: 'agg', p: page.next }, key);
  return aggregatePageJson(
    { device, sensor, from, to, every, agg, source: page.source, truncated: page.truncated },
    page.items,
    nextCursor,
  );
}

function addGapsRoute(app: FastifyInstance, deps: ReadingsRouteDeps): void {
  const { store, query: limits } = deps;
  app.get<{ Params: DeviceParams; Querystring: GapsQuery }>(
    '/api/v1/devices/:device/gaps',
    {
      config: readRoute,
      schema: {
        tags: ['readings'],
        summary: 'missing seq ranges per boot: readings that never arrived (yet)',
        security,
        params: DeviceParams,
        querystring: GapsQuery(limits.maxLimit),
        response: { 200: GapsPage, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { device } = request.params;
      const { boot, cursor } = request.query;
      await assertKnownDevice(deps, device);
      const key = fingerprint(['gap', device, boot]);
      const after = cursor === undefined ? undefined : decodeCursor(cursor, 'gap', key);
      const page = await store.gaps({ device, boot, limit: request.query.limit ?? limits.defaultLimit, after });
      return {
        device,
        gaps: page.items.map(({ boot: gapBoot, fromSeq, toSeq, afterTs, beforeTs }) => ({
          boot: gapBoot,
          fromSeq,
          toSeq,
          missing: toSeq - fromSeq + 1,
          afterTs,
          beforeTs,
        })),
        truncated: page.truncated,
        nextCursor: page.next && encodeCursor({ k: 'gap', p: page.next }, key),
      };
    },
  );
}

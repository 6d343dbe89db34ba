import { type Static, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { SEGMENT_PATTERN } from '../../contract/index.js';
import type { AlertEventRecord, AlertsService } from '../alerts/types.js';
import type { BackendMetrics } from '../metrics.js';
import { recordBody } from './alert-routes.js';
import { type FeedEntry, ReadingsFeed, type ReadingsFeedLimits, type ReadingsSource } from './readings-feed.js';
import { errorResponses } from './schemas.js';
import { type SseOptions, SseWriter } from './sse.js';

export interface StreamRouteDeps {
  /** Without it there is no /alerts/stream. */
  alerts?: AlertsService;
  /** Without it there is no /stream. */
  readings?: ReadingsSource;
  /** How many readings, and for how long, /stream keeps for clients that resume; default 50 000 and 10 minutes. */
  readingsWindow?: ReadingsFeedLimits;
  metrics: Pick<BackendMetrics, 'sseClients'>;
  /** Default 15 s. */
  heartbeatMs?: number;
  /** Bytes queued for one client before it is cut off; default 1 MiB. */
  maxBufferedBytes?: number;
  /** Live alert events held for one client while its backlog is sent, before it is cut off; default 10 000. */
  maxHeldEvents?: number;
  /** Backlog events (or readings) read at a time; default 500. */
  backlogPage?: number;
}

const readRoute = { access: 'read' as const };
const security = [{ bearer: [] }];
const Seq = (description: string) => Type.Optional(Type.Integer({ minimum: 0, description }));

const AlertStreamQuery = Type.Object(
  {
    lastEventId: Seq('as the Last-Event-ID header, for clients that cannot set headers'),
    since: Seq('send the events after this seq first; 0: the whole log'),
  },
  { additionalProperties: false },
);
type AlertStreamQuery = Static<typeof AlertStreamQuery>;
const AlertStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'the seq of the last event received' })),
});
type AlertStreamHeaders = Static<typeof AlertStreamHeaders>;

const ReadingStreamQuery = Type.Object(
  {
    device: Type.String({ pattern: SEGMENT_PATTERN, description: 'the device to follow' }),
    sensor: Type.Optional(Type.String({ pattern: SEGMENT_PATTERN, description: 'one sensor; default every sensor' })),
    lastEventId: Type.Optional(
      Type.String({ maxLength: 100, description: 'as the Last-Event-ID header, for clients that cannot set headers' }),
    ),
  },
  { additionalProperties: false },
);
type ReadingStreamQuery = Static<typeof ReadingStreamQuery>;
// Any id is taken: one this run did not issue (an earlier run's, or the old device/boot/seq form) gets a reset, not a
// 400 that would make an EventSource give up for good.
const ReadingStreamHeaders = Type.Object({
  'last-event-id': Type.Optional(Type.String({ maxLength: 100, description: 'the id of the last event received, `<epoch>-<n>`' })),
});
type ReadingStreamHeaders = Static<typeof ReadingStreamHeaders>;

const streamResponse = { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses(400, 401, 403, 429) };

/**
 * The server-sent event streams: alert transitions (resumable from the alert log by Last-Event-ID)
 * and readings (resumable within the window the ReadingsFeed holds). The replies are hijacked,
 * which also lifts fastify's handlerTimeout from them.
 */
export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDeps): void {
  const start = sseStarter(app, deps);
  const { alerts, readings } = deps;
  if (alerts) addAlertStream(app, alerts, deps, start);
  if (readings) addReadingStream(app, readings, deps, start);
}

type StartStream = (reply: FastifyReply, stream: 'alerts' | 'readings', log: FastifyBaseLogger) => SseWriter;

/** Takes a reply over as an SSE stream, counted while open and ended when the app closes. */
function sseStarter(app: FastifyInstance, deps: StreamRouteDeps): StartStream {
  const options: SseOptions = { heartbeatMs: deps.heartbeatMs ?? 15_000, maxBufferedBytes: deps.maxBufferedBytes ?? 1024 * 1024 };
  const open = new Set<SseWriter>();
  // server.close() waits for every connection to end: end the streams first, or shutdown would hang.
  app.addHook('preClose', (done) => {
    for (const writer of open) writer.end();
    done();
  });

  return (reply, stream, log) => {
    reply.hijack();
    const writer = new SseWriter(reply.raw, options);
    open.add(writer);
    deps.metrics.sseClients.inc({ stream });
    writer.onClose((reason) => {
      open.delete(writer);
      deps.metrics.sseClients.dec({ stream });
      if (reason === 'slow') log.warn({ stream }, 'SSE client cut off: it read too slowly (it may reconnect and resume)');
    });
    return writer;
  };
}

function addAlertStream(app: FastifyInstance, alerts: AlertsService, deps: StreamRouteDeps, start: StartStream): void {
  const limits = { maxHeld: deps.maxHeldEvents ?? 10_000, page: deps.backlogPage ?? 500 };
  app.get<{ Querystring: AlertStreamQuery; Headers: AlertStreamHeaders }>(
    '/api/v1/alerts/stream',
    {
      config: readRoute,
      schema: {
        tags: ['alerts'],
        summary: 'alert transitions as server-sent events (event: alert, id: seq), resumable',
        description:
          'Each event is `{seq, silenced, ...transition}`. With a Last-Event-ID header (or lastEventId=, or since=), the ' +
          'events after it come first, then the live ones, with no gap and no repeat. Without, live events only, after a bare ' +
          "`id: <newest seq>` that sets the client's Last-Event-ID so a reconnect before the first event resumes. A `: ping` " +
          'comment every 15 s. A client too slow to keep up is disconnected; it reconnects with its Last-Event-ID.',
        security,
        querystring: AlertStreamQuery,
        headers: AlertStreamHeaders,
        produces: ['text/event-stream'],
        response: streamResponse,
      },
    },
    (request, reply) => {
      const header = request.headers['last-event-id'];
      // The header wins: a browser's EventSource reconnects to the same URL (same since=) with the header set.
      const after = header !== undefined ? Number(header) : (request.query.lastEventId ?? request.query.since);
      const writer = start(reply, 'alerts', request.log);
      streamAlerts(writer, alerts, after, limits).catch((error: unknown) => {
        request.log.error({ err: error }, 'alert stream failed');
        writer.cutOff();
      });
    },
  );
}

function addReadingStream(app: FastifyInstance, readings: ReadingsSource, deps: StreamRouteDeps, start: StartStream): void {
  const feed = new ReadingsFeed(readings, { ...deps.readingsWindow, log: app.log });
  app.addHook('onClose', (_instance, done) => {
    feed.close();
    done();
  });
  const page = deps.backlogPage ?? 500;
  app.get<{ Querystring: ReadingStreamQuery; Headers: ReadingStreamHeaders }>(
    '/api/v1/stream',
    {
      config: readRoute,
      schema: {
        tags: ['readings'],
        summary: 'readings of one device as server-sent events (event: reading, id: <epoch>-<n>), resumable for 10 minutes',
        description:
          'Each event is a stored reading, sent as it is committed; its id is `<epoch>-<n>`: n numbers the readings of every ' +
          'device as this backend run stores them, the epoch names the run. With a Last-Event-ID header (or lastEventId=), ' +
          'the readings after it come first, then the live ones, with no gap and no repeat, as long as the backend still holds ' +
          'them (the last 50 000 readings of all devices, at most 10 minutes old). When it does not (the id is older, or from ' +
          'before a restart) the stream starts with `event: reset`, data `{"reason": "expired" | "restarted", "since": <Unix ms>}` ' +
          'and an id: readings received up to `since` may be missed, to fetch from /api/v1/devices/{device}/readings; every ' +
          'reading held after it follows, then live ones. Without an id, live readings only, after a bare `id: <epoch>-<n>` ' +
          "that sets the client's Last-Event-ID so a reconnect before the first reading resumes. A `: ping` comment every " +
          '15 s. A client too slow to keep up is disconnected; it reconnects with its Last-Event-ID. A device not seen yet is ' +
          'allowed: it may come online later.',
        security,
        querystring: ReadingStreamQuery,
        headers: ReadingStreamHeaders,
        produces: ['text/event-stream'],
        response: streamResponse,
      },
    },
    (request, reply) => {
      const { device, sensor, lastEventId } = request.query;
      // The header wins, as for the alerts: an EventSource reconnects to the same URL with the header set.
      const after = request.headers['last-event-id'] ?? lastEventId;
      const writer = start(reply, 'readings', request.log);
      streamReadings(writer, feed, { device, sensor }, after, page).catch((error: unknown) => {
        request.log.error({ err: error }, 'readings stream failed');
        writer.cutOff();
      });
    },
  );
}

/**
 * Sends the held readings after `lastEventId` (a reset first when they are not all held), then
 * live ones, with no gap and no repeat. No queue of live readings is kept meanwhile: until the
 * backlog is done they are read from the feed's buffer, which holds them in order.
 */
async function streamReadings(
  writer: SseWriter,
  feed: ReadingsFeed,
  filter: { device: string; sensor: string | undefined },
  lastEventId: string | undefined,
  page: number,
): Promise<void> {
  // The position of the last reading looked at, sent or filtered out.
  let done = 0;
  let live = false;
  const send = (entry: FeedEntry): boolean => {
    if (entry.n <= done) return !writer.closed;
    done = entry.n;
    const { reading } = entry;
    if (reading.device !== filter.device || (filter.sensor !== undefined && reading.sensor !== filter.sensor)) return !writer.closed;
    return writer.send({ id: feed.idOf(entry.n), event: 'reading', data: JSON.stringify(reading) });
  };
  const unsubscribe = feed.subscribe((entries) => {
    if (!live) return;
    for (const entry of entries) if (!send(entry)) return;
  });
  writer.onClose(unsubscribe);
  writer.open();
  if (writer.closed) return;

  if (lastEventId === undefined) {
    // Live only. Give the client the current position now, so an EventSource that reconnects
    // before its first reading resumes from here rather than live again, with a gap.
    done = feed.position;
    writer.sendId(feed.idOf(done));
    live = true;
    return;
  }
  const point = feed.resumeFrom(lastEventId);
  done = point.after;
  if (point.kind === 'reset') {
    // With an id, so a client that reconnects during what follows resumes rather than reset again.
    writer.send({ id: feed.idOf(point.after), event: 'reset', data: JSON.stringify({ reason: point.reason, since: point.since }) });
  }
  for (;;) {
    const entries = feed.after(done, page);
    // The client read its backlog slower than the window moved: it reconnects and gets a reset.
    if (entries === undefined) return writer.cutOff();
    for (const entry of entries) if (!send(entry)) return;
    if (entries.length < page) break;
    // Read on only once the client has taken this page: a slow client's backlog never piles up in memory.
    await writer.drained();
    if (writer.closed) return;
  }
  // Nothing awaited since the last read of the buffer: every reading after it comes live.
  live = true;
}

/**
 * Sends the backlog after `after` (if given), then live events, with no gap and no repeat:
 * it subscribes before reading the log and holds live events meanwhile; every event goes out
 * only if its seq is past the last one sent.
 */
async function streamAlerts(
  writer: SseWriter,
  alerts: AlertsService,
  after: number | undefined,
  limits: { maxHeld: number; page: number },
) {
  let lastSent = 0;
  let held: AlertEventRecord[] | undefined = [];
  const send = (record: AlertEventRecord) => {
    if (record.seq <= lastSent || writer.closed) return;
    lastSent = record.seq;
    writer.send({ id: String(record.seq), event: 'alert', data: JSON.stringify(recordBody(record)) });
  };
  const unsubscribe = alerts.onEvents((records) => {
    if (held === undefined) {
      for (const record of records) send(record);
      return;
    }
    for (const record of records) held.push(record);
    if (held.length > limits.maxHeld) writer.cutOff();
  });
  writer.onClose(() => {
    unsubscribe();
    held = undefined;
  });
  writer.open();

  const newest = alerts.lastSeq();
  if (after === undefined) {
    lastSent = newest;
    // Live only: the client has no id yet. Give it the log's end now, so an EventSource that
    // reconnects before its first event resumes from here rather than live again, with a gap.
    writer.sendId(String(newest));
  } else {
    // An id past the end of the log means the log is not the one the client read (it was
    // reset): everything in it is news to the client.
    lastSent = after > newest ? 0 : after;
    for (;;) {
      const page = alerts.eventsAfter(lastSent, limits.page);
      for (const record of page) send(record);
      if (page.length < limits.page || writer.closed) break;
      // Read the next page only once the client has taken this one: the backlog never piles up in memory.
      await writer.drained();
      if (writer.closed) return;
    }
  }
  // From here to `held = undefined` nothing awaits, so no event can slip between backlog and live.
  const pending = held ?? [];
  held = undefined;
  for (const record of pending) send(record);
}

import { type Static, Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import { SEGMENT_PATTERN } from '../../contract/index.js';
import type { AlertEventRecord, AlertsService } from '../alerts/types.js';
import type { BackendMetrics } from '../metrics.js';
import type { StoredReading } from '../store/reading-store.js';
import { recordBody } from './alert-routes.js';
import { errorResponses } from './schemas.js';
import { type SseOptions, SseWriter } from './sse.js';

/** Live readings after each commit. Returns the unsubscribe. */
export type ReadingsFeed = (listener: (device: string, readings: readonly StoredReading[]) => void) => () => void;

export interface StreamRouteDeps {
  /** Without it there is no /alerts/stream. */
  alerts?: AlertsService;
  /** Without it there is no /stream. */
  readings?: ReadingsFeed;
  metrics: Pick<BackendMetrics, 'sseClients'>;
  /** Default 15 s. */
  heartbeatMs?: number;
  /** Bytes queued for one client before it is cut off; default 1 MiB. */
  maxBufferedBytes?: number;
  /** Live alert events held for one client while its backlog is sent, before it is cut off; default 10 000. */
  maxHeldEvents?: number;
  /** Backlog events read from the log at a time; default 500. */
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
  },
  { additionalProperties: false },
);
type ReadingStreamQuery = Static<typeof ReadingStreamQuery>;

const streamResponse = { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses(400, 401, 403, 429) };

/**
 * The server-sent event streams: alert transitions (resumable by Last-Event-ID) and live
 * readings. The replies are hijacked, which also lifts fastify's handlerTimeout from them.
 */
export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDeps): void {
  const options: SseOptions = { heartbeatMs: deps.heartbeatMs ?? 15_000, maxBufferedBytes: deps.maxBufferedBytes ?? 1024 * 1024 };
  const open = new Set<SseWriter>();
  // server.close() waits for every connection to end: end the streams first, or shutdown would hang.
  app.addHook('preClose', (done) => {
    for (const writer of open) writer.end();
    done();
  });

  const start = (reply: FastifyReply, stream: 'alerts' | 'readings', log: FastifyBaseLogger): SseWriter => {
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

  const { alerts, readings } = deps;
  if (alerts) {
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
            '`id: <newest seq>` that sets the client\'s Last-Event-ID so a reconnect before the first event resumes. A `: ping` ' +
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

  if (readings) {
    app.get<{ Querystring: ReadingStreamQuery }>(
      '/api/v1/stream',
      {
        config: readRoute,
        schema: {
          tags: ['readings'],
          summary: 'live readings of one device as server-sent events (event: reading, id: device/boot/seq)',
          description:
            'Each event is a stored reading, sent as it is committed. Live only: there is no resume (use ' +
            '/devices/{device}/readings for what was missed). A device not seen yet is allowed: it may come online later.',
          security,
          querystring: ReadingStreamQuery,
          produces: ['text/event-stream'],
          response: streamResponse,
        },
      },
      (request, reply) => {
        const { device, sensor } = request.query;
        const writer = start(reply, 'readings', request.log);
        const unsubscribe = readings((from, batch) => {
          if (from !== device) return;
          for (const reading of batch) {
            if (sensor !== undefined && reading.sensor !== sensor) continue;
            if (!writer.send({ id: `${reading.device}/${reading.boot}/${reading.seq}`, event: 'reading', data: JSON.stringify(reading) })) return;
          }
        });
        writer.onClose(unsubscribe);
        writer.open();
      },
    );
  }
}

/**
 * Sends the backlog after `after` (if given), then live events, with no gap and no repeat:
 * it subscribes before reading the log and holds live events meanwhile; every event goes out
 * only if its seq is past the last one sent.
 */
async function streamAlerts(writer: SseWriter, alerts: AlertsService, after: number | undefined, limits: { maxHeld: number; page: number }) {
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

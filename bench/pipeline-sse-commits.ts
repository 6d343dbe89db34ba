// When a reading is committed, as an HTTP client learns it: the backend's readings stream
// (GET /api/v1/stream?device=..., server-sent events), one per device. The stream only carries
// readings after their write transaction has committed: the write batcher
// (backend/ingest/write-batcher.ts, commitHead) calls store.insertBatches, which for SQLite
// resolves once the writer thread has run the transaction and COMMIT has returned
// (backend/store/write-thread.ts, write-worker.ts, sqlite-writer.ts); only then does it resolve each batch, and
// ingest's `.then` emits `stored` (backend/ingest/ingest.ts, route), which backend.ts forwards to
// the ReadingsFeed that writes the SSE events (backend/http/readings-feed.ts, stream-routes.ts).
// So an event is proof of a commit, sent at once, with none of the confirmations' throttle
// (ingest.confirmIntervalMs, at least 50 ms per device). Its cost to the backend: one object
// and one JSON.stringify per reading for the streams, the same for every K.
//
// The backend cuts a stream off once more than 1 MiB is queued for it (sse.ts), which a burst of
// commits after a stall can do however fast the client reads. The watcher then resumes with its
// Last-Event-ID, as an EventSource would, and counts it: the readings held meanwhile are timed
// when they arrive on the new stream, so their latency includes the reconnect.
import http from 'node:http';

interface DeviceStream {
  device: string;
  request: http.ClientRequest | undefined;
  /** Batches waiting for their last seq to be committed: last seq -> when published (performance.now()). */
  pending: Map<number, number>;
  /** Text after the last complete event. */
  tail: string;
  lastEventId: string | undefined;
}

/** The data line of a `reading` event holds the stored reading as JSON, its seq among the first keys. */
const SEQ = /"seq":(\d+)/g;
/** Reconnects per stream before the watcher gives up on it. */
const MAX_RESUMES = 100;

export class SseCommitWatcher {
  readonly latenciesMs: number[] = [];
  /** Times the backend ended a stream (it was cut off) and the watcher resumed it. */
  resumed = 0;
  /** Resumed streams that began with `event: reset`: readings were missed (not held any more). */
  resets = 0;
  /** Streams given up on (could not be resumed). */
  lost = 0;
  private readonly streams = new Map<string, DeviceStream>();
  private stopped = false;

  private constructor(
    private readonly httpUrl: string,
    private readonly token: string,
  ) {}

  /** Opens one stream per device; resolves once each is live (the backend has sent its position). */
  static async start(httpUrl: string, token: string, devices: readonly string[]): Promise<SseCommitWatcher> {
    const watcher = new SseCommitWatcher(httpUrl, token);
    try {
      await Promise.all(
        devices.map((device) => {
          const stream: DeviceStream = { device, request: undefined, pending: new Map(), tail: '', lastEventId: undefined };
          watcher.streams.set(device, stream);
          return watcher.open(stream);
        }),
      );
    } catch (error) {
      watcher.stop();
      throw error;
    }
    return watcher;
  }

  /** Times the batch of `device` ending at `lastSeq`, published at `at` (performance.now()), until it is committed. */
  expect(device: string, lastSeq: number, at: number): void {
    this.streams.get(device)?.pending.set(lastSeq, at);
  }

  /** Sampled batches not seen committed yet. */
  get pending(): number {
    let n = 0;
    for (const stream of this.streams.values()) n += stream.pending.size;
    return n;
  }

  stop(): void {
    this.stopped = true;
    for (const stream of this.streams.values()) stream.request?.destroy();
  }

  /** Resolves once the stream is live: its first block (a bare `id:`, or the backlog after Last-Event-ID) has come. */
  private open(stream: DeviceStream): Promise<void> {
    const url = `${this.httpUrl}/api/v1/stream?device=${encodeURIComponent(stream.device)}`;
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' };
    if (stream.lastEventId !== undefined) headers['last-event-id'] = stream.lastEventId;
    const resuming = stream.lastEventId !== undefined;
    return new Promise((resolve, reject) => {
      stream.tail = '';
      let answered = false;
      let live = false;
      const request = http.get(url, { headers }, (response) => {
        answered = true;
        if (response.statusCode !== 200) {
          response.resume();
          if (resuming) this.lost++;
          reject(new Error(`GET ${url} answered ${response.statusCode}`));
          return;
        }
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          this.take(stream, chunk, performance.now());
          live ||= stream.lastEventId !== undefined;
          if (live) resolve();
        });
        response.on('close', () => {
          reject(new Error(`GET ${url} ended before it was live`));
          if (this.stopped) return;
          // Cut off once live: resume. Ended before it was live (again): give up on it, not loop.
          if (live && this.resumed < MAX_RESUMES * this.streams.size) this.resume(stream);
          else this.lost++;
        });
      });
      request.on('error', (error) => {
        if (this.stopped || answered) return;
        if (resuming) this.lost++;
        reject(error);
      });
      stream.request = request;
    });
  }

  private resume(stream: DeviceStream): void {
    this.resumed++;
    // Failures are counted where they happen (lost); a start that never came live needs no handling here.
    this.open(stream).catch(() => undefined);
  }

  /** Every complete event of the chunk: the batch whose last seq it carries is committed `now`. */
  private take(stream: DeviceStream, chunk: string, now: number): void {
    const text = stream.tail + chunk;
    const end = text.lastIndexOf('\n\n');
    if (end < 0) {
      stream.tail = text;
      return;
    }
    stream.tail = text.slice(end + 2);
    const complete = text.slice(0, end + 1);
    // Every block starts with its `id:` line (sse.ts, formatSse); the JSON in data lines has no "id: ".
    const idAt = complete.lastIndexOf('id: ');
    if (idAt >= 0 && (idAt === 0 || complete[idAt - 1] === '\n'))
      stream.lastEventId = complete.slice(idAt + 4, complete.indexOf('\n', idAt));
    if (complete.startsWith('event: reset') || complete.includes('\nevent: reset')) this.resets++;
    // A redelivered batch is streamed again once stored again: its seq is no longer pending then.
    for (const match of complete.matchAll(SEQ)) {
      const seq = Number(match[1]);
      const at = stream.pending.get(seq);
      if (at === undefined) continue;
      stream.pending.delete(seq);
      this.latenciesMs.push(now - at);
    }
  }
}

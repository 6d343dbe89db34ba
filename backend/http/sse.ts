import type { ServerResponse } from 'node:http';

// A server-sent events writer over a raw (hijacked) response. The format follows the WHATWG
// HTML standard, "Server-sent events" §9.2.5-9.2.6: fields `id:`, `event:`, one `data:` per
// line of the payload, a blank line ends a message, and a line starting with `:` is a comment.

export interface SseMessage {
  /** Becomes the client's Last-Event-ID; must not hold a line break (§9.2.6). */
  id?: string;
  event: string;
  data: string;
}

export interface SseOptions {
  /** A `: ping` comment this often, so proxies and clients see the stream is alive. */
  heartbeatMs: number;
  /**
   * Bytes queued for the client (in Node's buffers, past the kernel's) beyond which it is cut
   * off: a client that does not read must not grow the server's memory. It can resume.
   */
  maxBufferedBytes: number;
}

/** Why a stream ended: the client left, it read too slowly, or the server closed it. */
export type SseCloseReason = 'client' | 'slow' | 'server';

export function formatSse({ id, event, data }: SseMessage): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\n${lines.join('')}\n`;
}

export class SseWriter {
  private reason: SseCloseReason | undefined;
  private readonly closeListeners = new Set<(reason: SseCloseReason) => void>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseOptions,
  ) {
    res.on('close', () => this.finish('client'));
    // The client may have gone before the handler ran: then 'close' has fired already.
    if (res.destroyed || res.socket?.destroyed !== false) this.finish('client');
  }

  get closed(): boolean {
    return this.reason !== undefined;
  }

  /** Bytes written but not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  /** Sends the headers at once, so the client knows the stream is open before any event. */
  open(): void {
    if (this.closed) return;
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      // Events are never to be cached or held back by a proxy (nginx buffers unless told so).
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
    this.heartbeat = setInterval(() => this.write(': ping\n\n'), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** False when the stream is closed (or this message closed it for being too far behind). */
  send(message: SseMessage): boolean {
    return this.write(formatSse(message));
  }

  /**
   * Sets the client's last event id without an event: a block with an `id:` field and no data
   * updates the id (§9.2.6 "dispatch the event", step 1) and dispatches nothing (step 2, empty data).
   */
  sendId(id: string): boolean {
    return this.write(`id: ${id}\n\n`);
  }

  /** Whether the client is behind: writing more now only queues it in memory. */
  get backedUp(): boolean {
    return !this.closed && this.res.writableNeedDrain;
  }

  /** Resolves once the client has taken what was queued, or the stream closed. */
  drained(): Promise<void> {
    if (!this.backedUp) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done);
        this.closeListeners.delete(done);
        resolve();
      };
      this.res.on('drain', done);
      this.closeListeners.add(done);
    });
  }

  /** Called once, when the stream ends for whatever reason; at once if it has ended already. */
  onClose(listener: (reason: SseCloseReason) => void): void {
    if (this.reason !== undefined) listener(this.reason);
    else this.closeListeners.add(listener);
  }

  /** Ends the stream politely (server shutdown): the client reconnects with its Last-Event-ID. */
  end(): void {
    if (this.closed) return;
    this.finish('server');
    this.res.end();
  }

  /** Drops the connection now, queued data and all: the only way to free what a stuck client holds. */
  cutOff(): void {
    if (this.closed) return;
    this.finish('slow');
    this.res.destroy();
  }

  private write(chunk: string): boolean {
    if (this.closed) return false;
    if (this.res.write(chunk)) return true;
    if (this.res.writableLength > this.options.maxBufferedBytes) {
      this.cutOff();
      return false;
    }
    return true;
  }

  private finish(reason: SseCloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    clearInterval(this.heartbeat);
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) listener(reason);
  }
}

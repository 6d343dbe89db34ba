import type { Api } from './api.js';
import { type SseEvent, SseParser } from './sse-parser.js';

// A server-sent events stream read with fetch() rather than EventSource, because EventSource
// cannot send the bearer token. It reconnects on its own, with growing delay, sending the last
// event id (Last-Event-ID), so the backend resends exactly what was missed: no gap, no repeat.
// stop() closes it for good until start() again (the tab is hidden: no work at all).

export type StreamState = 'connecting' | 'live' | 'retrying' | 'stopped';

export interface EventStreamOptions {
  api: Api;
  url: string;
  onEvent: (event: SseEvent) => void;
  onState?: (state: StreamState) => void;
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 15_000;

export class EventStream {
  private controller: AbortController | undefined;
  private retryTimer: number | undefined;
  private retryMs = MIN_RETRY_MS;
  private lastEventId: string | undefined;

  constructor(private readonly options: EventStreamOptions) {}

  get running(): boolean {
    return this.controller !== undefined;
  }

  start(): void {
    if (this.controller) return;
    this.controller = new AbortController();
    void this.connect(this.controller);
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.controller?.abort();
    this.controller = undefined;
    this.options.onState?.('stopped');
  }

  private async connect(controller: AbortController): Promise<void> {
    this.options.onState?.('connecting');
    const parser = new SseParser(this.lastEventId);
    try {
      const headers = this.options.api.headers(this.lastEventId === undefined ? {} : { 'last-event-id': this.lastEventId });
      const response = await fetch(this.options.url, { headers, signal: controller.signal, cache: 'no-store' });
      if (!response.ok || !response.body) throw new Error(`${this.options.url}: ${response.status}`);
      this.options.onState?.('live');
      this.retryMs = MIN_RETRY_MS;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const event of parser.feed(value)) {
          this.lastEventId = event.id;
          this.options.onEvent(event);
        }
        // An id-only block (the backend's position for a fresh client) dispatches no event but moves the id.
        this.lastEventId = parser.lastEventId;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      console.warn('stream interrupted, reconnecting', this.options.url, error);
    }
    if (controller.signal.aborted || this.controller !== controller) return;
    this.options.onState?.('retrying');
    this.retryTimer = window.setTimeout(() => {
      if (this.controller === controller) void this.connect(controller);
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
  }
}

// Reads a server-sent event stream as it arrives, for the stream routes' tests.
import { type ClientRequest, type IncomingHttpHeaders, request } from 'node:http';
import type { StoredReading } from '../../backend/store/reading-store.js';
import { READ_TOKEN } from './fake-alerts-service.js';

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** Reads an event stream as it arrives: messages, comments, and whether it ended. */
export class StreamReader {
  status: number | undefined;
  headers: IncomingHttpHeaders = {};
  body = '';
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  ended = false;
  private readonly req: ClientRequest;

  /** `paused`: never reads, like a client on a stalled link. */
  constructor(url: string, headers: Record<string, string> = {}, paused = false) {
    this.req = request(url, { headers: { authorization: `Bearer ${READ_TOKEN}`, ...headers }, agent: false }, (res) => {
      this.status = res.statusCode;
      this.headers = res.headers;
      res.on('close', () => (this.ended = true));
      if (paused) return void res.pause();
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        this.body += chunk;
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      });
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  get seqs(): number[] {
    return this.messages.filter((m) => m.event === 'alert').map((m) => (JSON.parse(m.data) as { seq: number }).seq);
  }

  /** The readings received, as `device/seq`. */
  get readings(): string[] {
    return this.messages
      .filter((m) => m.event === 'reading')
      .map((m) => JSON.parse(m.data) as StoredReading)
      .map((r) => `${r.device}/${r.seq}`);
  }

  close(): void {
    this.req.destroy();
  }

  private parse(block: string): void {
    const message: SseMessage = { id: undefined, event: undefined, data: '' };
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line);
      else if (line.startsWith('id: ')) message.id = line.slice(4);
      else if (line.startsWith('event: ')) message.event = line.slice(7);
      else if (line.startsWith('data: ')) message.data += line.slice(6);
    }
    if (message.event !== undefined) this.messages.push(message);
  }
}

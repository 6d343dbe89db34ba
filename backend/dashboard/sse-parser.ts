// Server-sent events, parsed as the WHATWG HTML standard says (§9.2.6 "Interpreting an event
// stream"): lines end in CR, LF or CRLF; a blank line dispatches; `id:` sets the last event id
// even on a block without data (the backend sends such a block to give a fresh client its position).
// Kept free of DOM types so it can be tested under Node.

export interface SseEvent {
  event: string;
  data: string;
  /** The last event id after this event. */
  id: string | undefined;
}

export class SseParser {
  /** What a reconnect sends as Last-Event-ID. */
  lastEventId: string | undefined;
  private buffer = '';
  private event = '';
  private data: string[] = [];

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
  }

  /** Takes a chunk of the stream; returns the events it completed. */
  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
      if (!match || (match[0] === '\r' && match.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const dispatched = this.line(line);
      if (dispatched) events.push(dispatched);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      const data = this.data;
      const event = this.event || 'message';
      this.data = [];
      this.event = '';
      return data.length === 0 ? undefined : { event, data: data.join('\n'), id: this.lastEventId };
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      default:
        // retry and unknown fields: ignored (the client reconnects on its own schedule).
        break;
    }
    return undefined;
  }
}

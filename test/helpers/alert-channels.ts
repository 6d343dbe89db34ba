// The three ways an alert leaves the backend, as a subscriber sees them: an MQTT client on
// alerts/v1/#, an HTTP server receiving webhooks, and a server-sent events client. Each one
// records what it got, in order, for the end-to-end alert tests and the alert benchmark.
import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import type { AlertState, AlertTransition } from '../../contract/index.js';

export class MqttAlertRecorder {
  readonly events: AlertTransition[] = [];
  /** Retained state per `device/rule`; an empty retained message deletes the entry. */
  readonly states = new Map<string, AlertState>();
  /** Arrival time of every event, by id (the benchmark measures latency with it). */
  readonly arrivals = new Map<string, number>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      if (topic === 'alerts/v1/events') {
        const event = JSON.parse(payload.toString()) as AlertTransition;
        this.arrivals.set(event.id, Date.now());
        this.events.push(event);
        return;
      }
      const key = topic.slice('alerts/v1/'.length);
      if (payload.length === 0) this.states.delete(key);
      else this.states.set(key, JSON.parse(payload.toString()) as AlertState);
    });
  }

  static async connect(url: string, options: mqtt.IClientOptions = {}): Promise<MqttAlertRecorder> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 200, ...options });
    const recorder = new MqttAlertRecorder(client);
    await client.subscribeAsync(['alerts/v1/events', 'alerts/v1/+/+'], { qos: 1 });
    return recorder;
  }

  /** The `rule:from→to` path of every event, optionally of one rule only. */
  path(rule?: string): string[] {
    return this.events
      .filter((event) => rule === undefined || event.rule === rule)
      .map((event) => `${event.rule}:${event.from}→${event.to}`);
  }

  close(): Promise<void> {
    return this.client.endAsync();
  }
}

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  event: AlertTransition;
}

/**
 * A webhook receiver that can be taken down and brought back on the same port, or made to
 * hang (accept, never answer) like a receiver stuck behind a dead proxy.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  hang = false;
  private server: Server | undefined;
  private readonly held = new Set<ServerResponse>();

  constructor(public port = 0) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops every open connection: the receiver is down. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const res of this.held) res.destroy();
    this.held.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (this.hang) {
      this.held.add(res);
      return;
    }
    const body = Buffer.concat(chunks).toString();
    const parsed = JSON.parse(body) as { event: AlertTransition };
    this.received.push({ headers: req.headers, body, event: parsed.event });
    res.writeHead(204).end();
  }
}

export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** A server-sent events client that parses the stream as it arrives. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  status: number | undefined;
  private ended = false;
  private readonly req;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      this.status = res.statusCode;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.parse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      });
      res.on('end', () => (this.ended = true));
      res.on('error', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  get closed(): boolean {
    return this.ended;
  }

  /** The parsed data of every `alert` message. */
  get alerts(): Array<AlertTransition & { seq: number }> {
    return this.messages.filter((m) => m.event === 'alert').map((m) => JSON.parse(m.data) as AlertTransition & { seq: number });
  }

  get lastId(): string | undefined {
    return this.messages.filter((m) => m.id !== undefined).at(-1)?.id;
  }

  close(): void {
    this.req.destroy();
  }

  private parse(block: string): void {
    let id: string | undefined;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0 || event !== undefined) this.messages.push({ id, event, data: data.join('\n') });
  }
}

// An MQTT.js client playing a device's agent for commands: it announces itself (retained status,
// with a will), receives the requests on cmd/v1/{device}/+ and answers on .../reply as a test
// says. Tests of the backend's commands use it in place of the real agent.
import { randomBytes } from 'node:crypto';
import type { IClientOptions, MqttClient } from 'mqtt';
import { type Command, type CommandReply, decodeCommand, filters, parseTopic, topics } from '../../contract/index.js';
import { type TestUser, connectAs } from './test-broker.js';

export interface ReceivedCommand {
  command: string;
  request: Command;
  qos: number;
  retain: boolean;
  receivedAt: number;
}

/** What the agent answers (`undefined`: it stays silent); `requestId`, `command`, `v` and `ts` are filled in. */
export type Answer = Partial<Pick<CommandReply, 'outcome' | 'code' | 'reason' | 'data'>> | undefined;

export class CommandAgent {
  readonly device: string;
  readonly received: ReceivedCommand[] = [];
  /** How to answer each request; by default `ok` at once. */
  answer: (received: ReceivedCommand) => Answer | Promise<Answer> = () => ({ outcome: 'ok' });
  private readonly waiters: Array<(received: ReceivedCommand) => void> = [];
  private lastStatusTs = 0;

  private constructor(
    readonly client: MqttClient,
    readonly boot: string,
    /** When it connected: the time of its will, as the real agent stamps it; its birth comes after. */
    private readonly connectedAt: number,
  ) {
    this.device = String(client.options.username);
    client.on('message', (topic, payload, packet) => {
      const parsed = parseTopic(topic);
      const decoded = decodeCommand(payload);
      if (parsed?.kind !== 'command' || !decoded.ok) return;
      const received = { command: parsed.command, request: decoded.value, qos: packet.qos, retain: packet.retain, receivedAt: Date.now() };
      this.received.push(received);
      for (const waiter of this.waiters.splice(0)) waiter(received);
      void Promise.resolve(this.answer(received)).then((answer) => answer && this.reply(received, answer));
    });
  }

  /** Connects as `user` (a device: its user name is its id), subscribes to its commands and says it is online. */
  static async connect(url: string, user: TestUser, options: IClientOptions = {}): Promise<CommandAgent> {
    const device = user.username;
    const boot = `boot-${randomBytes(4).toString('hex')}`;
    const connectedAt = Date.now();
    const offline = JSON.stringify({ v: 1, device, state: 'offline', ts: connectedAt, boot });
    const client = await connectAs(url, user, {
      will: { topic: topics.status(device), payload: Buffer.from(offline), qos: 1, retain: true },
      ...options,
    });
    const agent = new CommandAgent(client, boot, connectedAt);
    await client.subscribeAsync(filters.commandsFor(device), { qos: 1 });
    await agent.status('online');
    return agent;
  }

  status(state: 'online' | 'offline'): Promise<unknown> {
    // Each status later than the one before, as the registry orders a boot's statuses by time.
    const ts = Math.max(Date.now(), this.connectedAt + 1, this.lastStatusTs + 1);
    this.lastStatusTs = ts;
    const payload = JSON.stringify({ v: 1, device: this.device, state, ts, boot: this.boot, agentVersion: '0.0.0-test' });
    return this.client.publishAsync(topics.status(this.device), payload, { qos: 1, retain: true });
  }

  reply(received: Pick<ReceivedCommand, 'command' | 'request'>, answer: NonNullable<Answer>): Promise<unknown> {
    const reply: CommandReply = {
      v: 1,
      requestId: received.request.requestId,
      command: received.command,
      outcome: 'ok',
      ...answer,
      ts: Date.now(),
    };
    return this.client.publishAsync(topics.commandReply(this.device, received.command), JSON.stringify(reply), { qos: 1 });
  }

  /** The next request to arrive (or the first one already received past `after`). */
  nextRequest(after = this.received.length): Promise<ReceivedCommand> {
    const already = this.received[after];
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  end(): Promise<void> {
    return this.client.endAsync(true);
  }
}

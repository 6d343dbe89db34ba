// The whole chain as separate processes on fixed ports and folders, so that any part can be
// killed and started again as it was: broker → backend (SQLite), and emulator (TCP) → socat
// cable (a pseudo-terminal, what the agent opens as its serial port) → agent (outbox) → broker.
// The cable is its own process so that unplugging it (killing socat) leaves the furnace running.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from '../helpers/cli.js';
import { freePorts } from '../helpers/free-port.js';
import { startProcess } from '../helpers/process.js';
import { type Redis, redisCommand, startRedis } from '../helpers/redis.js';
import { mountTmpfs } from '../helpers/tmpfs.js';
import { waitFor } from '../helpers/wait-for.js';
import { type BrokerKind, type StackUsers, launchBroker, writeMosquittoConfig } from './brokers.js';
import { outboxHighestSeq, storedSeqs } from './observe.js';
import { Part } from './part.js';

export const DEVICE = 'furnace-faults';

/** Quick batches, reconnects and reopens, so that a row takes seconds; the replay rate stays bounded. */
const AGENT_ENV = {
  FURNACE_AGENT_HEALTH_HOST: '127.0.0.1',
  FURNACE_AGENT_MQTT_BATCH_INTERVAL_MS: '50',
  FURNACE_AGENT_MQTT_RECONNECT_MIN_MS: '100',
  FURNACE_AGENT_MQTT_RECONNECT_MAX_MS: '1000',
  FURNACE_AGENT_REPLAY_MAX_READINGS_PER_SECOND: '2000',
  FURNACE_AGENT_REPLAY_BATCH_MAX_READINGS: '200',
  FURNACE_AGENT_SERIAL_REOPEN_MAX_MS: '1000',
  // What the broker lost is sent again once unconfirmed this long (default 15 s): within a row's deadline.
  FURNACE_AGENT_CONFIRM_TIMEOUT_MS: '3000',
};
/** 10 readings a second; the agent is told so, and calls the line stalled after 5 missed lines. */
const INTERVAL_MS = 100;

export interface FaultStackOptions {
  broker?: BrokerKind;
  /** Put the agent's data folder on a tmpfs of this size (a disk that can fill up). */
  agentDiskBytes?: number;
  /** Agent settings over the suite's quick ones. */
  agentEnv?: Record<string, string>;
  /** Backend settings (e.g. FURNACE_BACKEND_STORE_KIND=influxdb). */
  backendEnv?: Record<string, string>;
  /** Rows per seq of the device as the store holds them, when the store is not the backend's readings.sqlite. */
  storedSeqs?: (stack: FaultStack) => Map<number, number>;
}

export class FaultStack {
  readonly device = DEVICE;
  readonly dir = mkdtempSync(join(tmpdir(), 'test-faults-'));
  readonly agentDir = join(this.dir, 'agent');
  readonly backendDir = join(this.dir, 'backend');
  readonly serialLink = join(this.dir, 'serial', DEVICE);
  readonly outboxFile = join(this.agentDir, 'outbox.sqlite');
  readonly readingsFile = join(this.backendDir, 'readings.sqlite');
  readonly kind: BrokerKind;
  ports = { mqtt: 0, http: 0, health: 0, serial: 0 };
  redis: Redis | undefined;
  readonly broker: Part;
  readonly backend: Part;
  readonly emulator: Part;
  readonly cable: Part;
  readonly agent: Part;
  private readonly cleanups: Array<() => unknown> = [];
  private mosquittoConf: string | undefined;

  constructor(
    private readonly users: StackUsers & { file: string },
    private readonly options: FaultStackOptions = {},
  ) {
    this.kind = options.broker ?? 'memory';
    const mqttUrl = () => `mqtt://127.0.0.1:${this.ports.mqtt}`;
    this.broker = new Part('broker', () =>
      launchBroker({
        kind: this.kind,
        port: this.ports.mqtt,
        usersFile: users.file,
        redisUrl: this.redis?.url,
        mosquittoConf: this.mosquittoConf,
      }),
    );
    this.backend = new Part('backend', () =>
      startCli(
        'backend',
        ['--host', '127.0.0.1', '--port', String(this.ports.http), '--mqtt-url', mqttUrl(), '--data-dir', this.backendDir, '--open-access'],
        {
          ...options.backendEnv,
          FURNACE_BACKEND_MQTT_USERNAME: users.backend.username,
          FURNACE_BACKEND_MQTT_PASSWORD: users.backend.password,
        },
      ),
    );
    this.emulator = new Part('emulator', () =>
      startCli('emulator', [
        '--transport',
        'tcp',
        '--port',
        String(this.ports.serial),
        '--interval-ms',
        String(INTERVAL_MS),
        '--speed',
        '60',
      ]),
    );
    // socat's transfer loop starts once both ends are open: the link is there and the furnace connected.
    this.cable = new Part('socat cable', () =>
      startProcess('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.serialLink}`, `tcp:127.0.0.1:${this.ports.serial}`], {
        readyLine: /starting data transfer loop/,
        readyTimeoutMs: 10_000,
      }),
    );
    const agentConfig = join(this.dir, 'agent.yaml');
    this.agent = new Part('agent', () => {
      const args = ['--config', agentConfig, '--serial-path', this.serialLink, '--mqtt-url', mqttUrl(), '--data-dir', this.agentDir];
      return startCli('agent', [...args, '--health-port', String(this.ports.health)], {
        ...AGENT_ENV,
        ...options.agentEnv,
        FURNACE_AGENT_MQTT_USERNAME: users.agent.username,
        FURNACE_AGENT_MQTT_PASSWORD: users.agent.password,
      });
    });
    mkdirSync(this.agentDir);
    mkdirSync(join(this.dir, 'serial'));
    writeFileSync(agentConfig, `device: ${DEVICE}\nsensors:\n  - id: tc1\n    line: { intervalMs: ${INTERVAL_MS} }\n`);
  }

  /** Starts every part, in the order a plant would, and waits until readings reach the store. */
  async start(): Promise<void> {
    const [mqtt, http, health, serial] = (await freePorts(4)) as [number, number, number, number];
    this.ports = { mqtt, http, health, serial };
    if (this.options.agentDiskBytes !== undefined) this.cleanups.push(mountTmpfs(this.agentDir, this.options.agentDiskBytes));
    if (this.kind === 'redis') this.redis = await startRedis();
    if (this.kind === 'mosquitto') this.mosquittoConf = await writeMosquittoConfig(this.dir, mqtt, DEVICE, this.users);
    await this.broker.start();
    await this.backend.start();
    await this.emulator.start();
    await this.cable.start();
    await this.agent.start();
    await this.flowing(20);
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.ports.http}`;
  }

  get agentUrl(): string {
    return `http://127.0.0.1:${this.ports.health}`;
  }

  /** The agent's highest seq so far (kept across its restarts). */
  produced(): number {
    return outboxHighestSeq(this.outboxFile);
  }

  /** Rows stored per seq of this device. */
  stored(): Map<number, number> {
    return this.options.storedSeqs ? this.options.storedSeqs(this) : storedSeqs(this.readingsFile, DEVICE);
  }

  /** Waits until `more` new seqs are stored: the chain carries readings end to end. */
  async flowing(more: number, timeoutMs = 20_000): Promise<void> {
    const target = this.stored().size + more;
    await waitFor(() => this.stored().size >= target, {
      timeoutMs,
      intervalMs: 100,
      what: `${more} more readings to reach the store (agent → broker → backend)`,
    });
  }

  redisCommand(args: string[]): Promise<string> {
    if (!this.redis) throw new Error('this stack has no Redis');
    return redisCommand(this.redis.port, args);
  }

  /** Run at dispose, before the folder goes (newest first). */
  onDispose(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** Kills every part, runs the cleanups, removes the folder. Safe after a failed start. */
  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (step: () => unknown) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    for (const part of [this.agent, this.cable, this.emulator, this.backend, this.broker]) await attempt(() => part.dispose());
    for (const cleanup of this.cleanups.splice(0).reverse()) await attempt(cleanup);
    await attempt(() => this.redis?.stop());
    await attempt(() => rmSync(this.dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new AggregateError(errors, `fault stack teardown: ${errors.length} step(s) failed`);
  }
}

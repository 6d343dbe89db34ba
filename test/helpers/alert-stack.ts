// A broker and a backend with alert rules, run as separate processes for the end-to-end alert
// tests: the backend reads a config file written here, its rules from a rules file beside it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'yaml';
import { startCli } from './cli.js';
import { freePorts } from './free-port.js';
import type { RunningProcess } from './process.js';

export interface AlertStackOptions {
  dir: string;
  rules: unknown[];
  /** Merged into the backend's `alerts` settings. */
  alerts?: Record<string, unknown>;
}

export class AlertStack {
  backend!: RunningProcess;
  broker!: RunningProcess;
  readonly configFile: string;
  readonly rulesFile: string;

  private constructor(
    readonly options: AlertStackOptions,
    readonly mqttPort: number,
    readonly httpPort: number,
  ) {
    this.configFile = join(options.dir, 'backend.yaml');
    this.rulesFile = join(options.dir, 'rules.yaml');
  }

  static async start(options: AlertStackOptions): Promise<AlertStack> {
    const [mqttPort, httpPort] = (await freePorts(2)) as [number, number];
    const stack = new AlertStack(options, mqttPort, httpPort);
    stack.writeRules(options.rules);
    writeFileSync(
      stack.configFile,
      stringify({
        dataDir: join(options.dir, 'backend'),
        http: { host: '127.0.0.1', port: httpPort },
        mqtt: { url: stack.mqttUrl },
        auth: { openAccess: true },
        alerts: { rulesFile: stack.rulesFile, checkIntervalMs: 200, retryMinMs: 100, retryMaxMs: 2000, ...options.alerts },
      }),
    );
    // Authentication is tested by the broker's own tests and npm start; here the alert path is what matters.
    stack.broker = await startCli('broker', ['--port', String(mqttPort), '--host', '127.0.0.1', '--allow-anonymous']);
    await stack.startBackend();
    return stack;
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  get api(): string {
    return `http://127.0.0.1:${this.httpPort}/api/v1`;
  }

  async startBackend(): Promise<RunningProcess> {
    this.backend = await startCli('backend', ['--config', this.configFile]);
    return this.backend;
  }

  writeRules(rules: unknown[] | string): void {
    writeFileSync(this.rulesFile, typeof rules === 'string' ? rules : stringify(rules));
  }

  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.api}${path}`);
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** Arrival times (backend clock) of the stored readings of one device, oldest first. */
  arrivals(device: string): number[] {
    const db = new Database(join(this.options.dir, 'backend', 'readings.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return (
        db.prepare('SELECT received_at FROM readings WHERE device = ? ORDER BY received_at').all(device) as Array<{ received_at: number }>
      ).map((row) => row.received_at);
    } finally {
      db.close();
    }
  }
}

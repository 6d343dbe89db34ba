// When a reading is committed, as the agent learns it: the backend's retained confirmations on
// `telemetry/v1/{device}/stored` (contract/README.md), read by a backend-role subscriber. A run
// [first, last] there means the store holds every seq from first to last of that boot, so a
// sampled batch is committed once a run covers its last seq. The backend sends these at most
// every ingest.confirmIntervalMs per device, which the latency includes.
import type { MqttClient } from 'mqtt';
import { decodeStoredConfirmation, parseTopic } from '../contract/index.js';
import { BOOT, type Credentials, connectClient } from './pipeline-load.js';

interface PendingSample {
  seq: number;
  at: number;
}

export class CommitWatcher {
  /** Per device, the seq through which the store holds every reading of this bench's boot. */
  readonly committedThrough = new Map<string, number>();
  readonly latenciesMs: number[] = [];
  private readonly pending = new Map<string, PendingSample[]>();
  rejected = 0;

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
  }

  static async start(url: string, observer: Credentials): Promise<CommitWatcher> {
    const client = await connectClient(url, observer, `${observer.username}-${process.pid}`);
    const watcher = new CommitWatcher(client);
    await client.subscribeAsync('telemetry/v1/+/stored', { qos: 1 });
    return watcher;
  }

  /** Times the batch ending at `seq` (published at `at`, performance.now()) until it is confirmed. */
  sample(device: string, seq: number, at: number): void {
    let list = this.pending.get(device);
    if (!list) this.pending.set(device, (list = []));
    list.push({ seq, at });
  }

  /** Every device has everything through its `lastSeq` confirmed. */
  covers(lastSeqs: ReadonlyMap<string, number>): boolean {
    for (const [device, lastSeq] of lastSeqs) if ((this.committedThrough.get(device) ?? 0) < lastSeq) return false;
    return true;
  }

  async stop(): Promise<void> {
    await this.client.endAsync(true);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const now = performance.now();
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'stored' || payload.length === 0) return;
    const decoded = decodeStoredConfirmation(parsed.device, payload);
    if (!decoded.ok) {
      this.rejected++;
      return;
    }
    const runs = decoded.value.boots.find((entry) => entry.boot === BOOT)?.runs ?? [];
    for (const [first, last] of runs) {
      if (first === 1 && last > (this.committedThrough.get(parsed.device) ?? 0)) this.committedThrough.set(parsed.device, last);
    }
    const list = this.pending.get(parsed.device);
    if (!list) return;
    const covered = (seq: number) => runs.some(([first, last]) => first <= seq && seq <= last);
    this.pending.set(
      parsed.device,
      list.filter((sample) => {
        if (!covered(sample.seq)) return true;
        this.latenciesMs.push(now - sample.at);
        return false;
      }),
    );
  }
}

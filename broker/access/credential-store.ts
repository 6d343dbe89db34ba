// The credentials in force, reloaded without a restart: when the file changes (watched through
// its folder, because editors and `furnace-broker passwd` replace it by renaming) and on
// reload() (the CLI calls it on SIGHUP). A file that no longer reads or parses leaves the
// previous credentials in force, loudly.
import { type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import { type Credential, type Credentials, readCredentialsFile } from './credentials.js';
import type { BrokerMetrics } from '../metrics/metrics.js';

// Editors and `rename` produce bursts of events: reload once they settle.
const SETTLE_MS = 50;

export class CredentialStore {
  private users: Credentials = new Map();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();

  /**
   * @param onChange called after a reload with the users whose entry changed or vanished,
   *   so that their connected clients can be disconnected
   */
  constructor(
    private readonly path: string | undefined,
    private readonly metrics: BrokerMetrics,
    private readonly log: Logger,
    private readonly onChange: (changed: string[]) => void,
  ) {}

  get current(): Credentials {
    return this.users;
  }

  /** Reads the file at start-up; throws (a BrokerError) if it is missing or invalid. */
  async load(): Promise<void> {
    if (this.path === undefined) return;
    this.users = await readCredentialsFile(this.path);
    this.log.info({ file: this.path, users: this.users.size }, 'credentials loaded');
    this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(this.path ?? '')) this.scheduleReload();
    });
    this.watcher.on('error', (error) =>
      this.log.warn({ err: error, file: this.path }, 'cannot watch the credentials file; reload with SIGHUP'),
    );
  }

  /** Reads the file again; resolves once done (failures are logged and counted, not thrown). */
  reload(): Promise<void> {
    this.reloading = this.reloading.then(() => this.readAgain());
    return this.reloading;
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
  }

  private scheduleReload(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload(), SETTLE_MS);
  }

  private async readAgain(): Promise<void> {
    if (this.path === undefined) return;
    let next: Map<string, Credential>;
    try {
      next = await readCredentialsFile(this.path);
    } catch (error) {
      this.metrics.credentialReloads.inc({ result: 'failed' });
      this.log.error({ err: error, file: this.path }, 'credentials not reloaded: the previous ones stay in force');
      return;
    }
    const changed = [...this.users.values()]
      .filter((user) => {
        const now = next.get(user.username);
        return now?.hash !== user.hash || now.role !== user.role;
      })
      .map((user) => user.username);
    const added = [...next.keys()].filter((name) => !this.users.has(name));
    this.users = next;
    this.metrics.credentialReloads.inc({ result: 'ok' });
    this.log.info({ file: this.path, users: next.size, added, changedOrRemoved: changed }, 'credentials reloaded');
    if (changed.length > 0) this.onChange(changed);
  }
}

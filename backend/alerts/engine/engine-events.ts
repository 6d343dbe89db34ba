import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AlertEventRecord } from '../types.js';

export type AlertEngineEvents = { appended: [readonly AlertEventRecord[]]; enqueued: [readonly string[]] };

/** What the engine tells after each commit: the events appended to the log, the channels given work. */
export class AlertEngineEmitter extends EventEmitter<AlertEngineEvents> {
  constructor(private readonly log: Logger) {
    super();
    // One `appended` listener per SSE client (AlertsService.onEvents): any number is expected, so
    // Node's leak warning past 10 would only cry wolf.
    this.setMaxListeners(0);
  }

  /** Listeners are called one by one so a failing one neither stops the others nor undoes the commit. */
  emitGuarded<K extends keyof AlertEngineEvents>(name: K, ...args: AlertEngineEvents[K]): void {
    for (const listener of this.listeners(name)) {
      try {
        (listener as (...values: AlertEngineEvents[K]) => void)(...args);
      } catch (error) {
        this.log.error({ err: error, event: name }, 'alert event listener failed');
      }
    }
  }
}

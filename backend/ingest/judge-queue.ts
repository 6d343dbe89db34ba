import type { IngestObserver, ReceivedReadings } from './ingest-observer.js';

/** A turn with more readings messages than this is judged in several groups. */
const MAX_GROUP = 256;

interface Waiting extends ReceivedReadings {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Hands the readings messages that arrive in one event-loop turn to the observer together, so the
 * alert engine judges them in one transaction instead of one per message (a commit per message was
 * its largest cost, issue 14). Each message's promise settles once its group is judged: all of them
 * resolve after the group's commit, or all reject with its error, and ingest retries each.
 * Observers without `readingsMany` are called once per message, as before.
 */
export class JudgeQueue {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly observer: IngestObserver,
    private readonly maxGroup = MAX_GROUP,
  ) {}

  judge(batch: ReceivedReadings['batch'], receivedAt: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batch, receivedAt, resolve, reject });
      if (this.waiting.length >= this.maxGroup) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: MQTT.js hands over the messages of one socket read in
        // microtasks, so they are all here by then.
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    const group = this.waiting;
    this.waiting = [];
    if (group.length === 0) return;
    const { observer } = this;
    if (observer.readingsMany === undefined) {
      for (const message of group) settleAfter([message], () => observer.readings(message.batch, message.receivedAt));
    } else {
      const judge = observer.readingsMany.bind(observer);
      settleAfter(group, () => judge(group));
    }
  }
}

function settleAfter(messages: readonly Waiting[], work: () => void): void {
  try {
    work();
  } catch (error) {
    for (const message of messages) message.reject(error);
    return;
  }
  for (const message of messages) message.resolve();
}

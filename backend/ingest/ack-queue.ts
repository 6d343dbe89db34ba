/**
 * PUBACKs owed to the broker, sent in the order the PUBLISHes arrived ([MQTT-4.6.0-2]: "It MUST
 * send PUBACK packets in the order in which the corresponding PUBLISH packets were received"),
 * each only once its message is done (stored, or refused for good). A message that is done early
 * waits for those before it.
 */
export class AckQueue {
  private entries: Array<{ messageId: number; done: boolean }> = [];
  private generation = 0;

  constructor(private readonly send: (messageId: number) => void) {}

  /** Takes the next place in line; the returned function marks it done. */
  enter(messageId: number): () => void {
    const entry = { messageId, done: false };
    this.entries.push(entry);
    const generation = this.generation;
    return () => {
      // Owed on a connection that is gone: the broker resends that message on the next one.
      if (generation !== this.generation) return;
      entry.done = true;
      this.flush();
    };
  }

  /** The connection ended: nothing owed on it can be sent any more. */
  reset(): void {
    this.entries = [];
    this.generation++;
  }

  /** PUBACKs not sent yet. */
  get waiting(): number {
    return this.entries.length;
  }

  private flush(): void {
    let sent = 0;
    for (const entry of this.entries) {
      if (!entry.done) break;
      this.send(entry.messageId);
      sent++;
    }
    if (sent > 0) this.entries.splice(0, sent);
  }
}

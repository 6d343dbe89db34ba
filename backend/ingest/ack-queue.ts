/**
 * PUBACKs owed to the broker, sent in the order the PUBLISHes arrived ([MQTT-4.6.0-2]: "It MUST
 * send PUBACK packets in the order in which the corresponding PUBLISH packets were received"),
 * each only once its message is done (stored, or refused for good). A message that is done early
 * waits for those before it.
 */
export class AckQueue {
  private entries: Array<{ messageId: number; done: boolean }> = [];
  /** Entries before this index are sent: the line moves by an index, not by shifting the array per PUBACK. */
  private head = 0;
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
    this.head = 0;
    this.generation++;
  }

  /** PUBACKs not sent yet. */
  get waiting(): number {
    return this.entries.length - this.head;
  }

  private flush(): void {
    // With thousands of messages waiting for one commit, splicing the array once per PUBACK made
    // each commit's acknowledgements cost the square of their number.
    for (let entry = this.entries[this.head]; entry?.done === true; entry = this.entries[this.head]) {
      this.head++;
      this.send(entry.messageId);
    }
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}

import type { CommandReply } from '../../contract/index.js';

export interface ReplyCacheLimits {
  /** Replies kept at most; the oldest go first. */
  maxEntries: number;
  /** A reply is forgotten this long after its request came (ms). */
  ttlMs: number;
}

/**
 * MQTT QoS 1 is "at least once": a broker redelivers a request whose PUBACK it did not see.
 * 1000 replies over 10 minutes cover any redelivery (a broker's retry comes within seconds of a
 * reconnect) at a few hundred KB.
 */
export const DEFAULT_REPLY_CACHE: ReplyCacheLimits = { maxEntries: 1000, ttlMs: 10 * 60_000 };

interface Entry {
  at: number;
  reply: Promise<CommandReply>;
}

/**
 * The recent replies by requestId, so that a redelivered request is answered again, not run
 * again. An entry is made when the request arrives, holding the reply to come: a duplicate that
 * arrives while the command still runs gets the same reply once it is done.
 */
export class ReplyCache {
  /** In order of arrival (a Map keeps insertion order), so the oldest are at the front. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly limits: ReplyCacheLimits = DEFAULT_REPLY_CACHE) {}

  get(requestId: string, now: number): Promise<CommandReply> | undefined {
    this.expire(now);
    return this.entries.get(requestId)?.reply;
  }

  set(requestId: string, reply: Promise<CommandReply>, now: number): void {
    this.entries.delete(requestId);
    this.entries.set(requestId, { at: now, reply });
    this.expire(now);
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.limits.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  private expire(now: number): void {
    for (const [requestId, entry] of this.entries) {
      if (now - entry.at < this.limits.ttlMs) break;
      this.entries.delete(requestId);
    }
  }
}

import type { Logger } from 'pino';
import type { BackendMetrics } from '../metrics.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { ReadingStore } from '../store/reading-store.js';
import type { CommandSender } from './command-client.js';
import { CommandError } from './command-errors.js';

export interface GapFillerOptions {
  store: Pick<ReadingStore, 'gaps'>;
  registry: Pick<DeviceRegistry, 'get' | 'list'>;
  commands: CommandSender;
  metrics: BackendMetrics;
  log: Logger;
  /** A gap must stay open this long before it is asked for (commands.fillGapsAfterMs, > 0). */
  fillAfterMs: number;
  /** The same gap is asked for at most this often (commands.fillGapsRepeatMs). */
  repeatMs: number;
  /** How long one resend waits for the agent's reply. */
  timeoutMs: number;
  /** How often the watched devices are checked; default a quarter of fillAfterMs (50 ms to 10 s); 0: only by calling check(). */
  checkEveryMs?: number;
}

/** Asks for one gap at most this many times: what the agent no longer holds cannot come back. */
export const MAX_ASKS = 3;
/** Gaps looked at per device and check; the oldest first, so a long list is worked through in order. */
const GAPS_PER_CHECK = 64;
const REQUESTER = 'gap-filler';

interface Range {
  boot: string;
  fromSeq: number;
  toSeq: number;
}
/** A gap as first seen. */
interface Seen extends Range {
  at: number;
}
/** A resend asked for. */
interface Asked extends Range {
  at: number;
  asks: number;
}

const overlaps = (a: Range, b: Range) => a.boot === b.boot && a.fromSeq <= b.toSeq && b.fromSeq <= a.toSeq;

/**
 * Gap filling: a seq gap is a reading that never reached the store, which the agent may still
 * hold in its outbox (it deletes a reading only once the backend confirms it). A gap that stays
 * open for `fillAfterMs` on an online device is asked for with the `resend` command: one gap at
 * a time per device, the same gap at most every `repeatMs` and MAX_ASKS times. Gaps usually close
 * on their own (reordering, the agent's own resends), hence the wait.
 *
 * Only devices that may have a gap are looked at: every device at start, then those stored to by
 * a commit that opened a gap (ingest's `committed` and `stored` events), until their gaps close.
 */
export class GapFiller {
  private readonly watched = new Set<string>();
  /** Devices stored to since the last check, and whether any commit since then opened a gap. */
  private readonly recent = new Set<string>();
  private gapOpened = false;
  /** Per device: each open gap, with when it (or the larger gap it is what is left of) was first seen. */
  private readonly firstSeen = new Map<string, Seen[]>();
  private readonly asked = new Map<string, Asked[]>();
  /** Devices with a resend waiting for its reply. */
  private readonly busy = new Set<string>();
  private readonly timer: NodeJS.Timeout | undefined;
  private checking = false;
  private stopped = false;

  constructor(private readonly options: GapFillerOptions) {
    for (const entry of options.registry.list()) this.watched.add(entry.device);
    // Often enough that a gap is asked for soon after it is due, never a busy loop.
    const checkMs = options.checkEveryMs ?? Math.min(10_000, Math.max(50, Math.round(options.fillAfterMs / 4)));
    this.timer = checkMs > 0 ? setInterval(() => void this.check(), checkMs) : undefined;
    this.timer?.unref();
  }

  /** Ingest's `stored` event: readings of this device were committed. */
  stored(device: string): void {
    this.recent.add(device);
  }

  /** Ingest's `committed` event: a commit opened this many gaps (which devices, `stored` says right after). */
  committed(gapsOpened: number): void {
    if (gapsOpened > 0) this.gapOpened = true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One pass over the watched devices; passes never overlap. Public for tests. */
  async check(now = Date.now()): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    if (this.gapOpened) for (const device of this.recent) this.watched.add(device);
    this.gapOpened = false;
    this.recent.clear();
    try {
      for (const device of [...this.watched]) {
        if (this.stopped) return;
        await this.checkDevice(device, now);
      }
    } catch (error) {
      // The store failing is reported by ingest and readiness; here it only delays gap filling.
      this.options.log.warn({ err: error }, 'gap filling: reading the gaps failed; trying again at the next check');
    } finally {
      this.checking = false;
    }
  }

  private async checkDevice(device: string, now: number): Promise<void> {
    const { items: gaps } = await this.options.store.gaps({ device, limit: GAPS_PER_CHECK });
    if (gaps.length === 0) {
      this.watched.delete(device);
      this.firstSeen.delete(device);
      this.asked.delete(device);
      return;
    }
    // A gap that shrank or split keeps its age: those readings have been missing since then.
    const before = this.firstSeen.get(device) ?? [];
    const seen = gaps.map((gap) => ({ ...gap, at: Math.min(now, ...before.filter((old) => overlaps(old, gap)).map((old) => old.at)) }));
    this.firstSeen.set(device, seen);
    // What was asked for and has closed since is forgotten; what is still open keeps its count.
    const asked = (this.asked.get(device) ?? []).filter((record) => gaps.some((gap) => overlaps(record, gap)));
    this.asked.set(device, asked);
    if (this.busy.has(device) || this.options.registry.get(device)?.status?.state !== 'online') return;
    const due = seen.find((gap) => now - gap.at >= this.options.fillAfterMs && this.mayAsk(device, gap, asked, now));
    if (due) void this.ask(device, due, asked, now);
  }

  private mayAsk(device: string, gap: Range, asked: Asked[], now: number): boolean {
    const earlier = asked.filter((record) => overlaps(record, gap));
    if (earlier.some((record) => now - record.at < this.options.repeatMs)) return false;
    const record = earlier.reduce<Asked | undefined>((most, next) => (next.asks > (most?.asks ?? 0) ? next : most), undefined);
    if (!record || record.asks < MAX_ASKS) return true;
    if (record.asks === MAX_ASKS) {
      // Counted and logged once per gap: asks past MAX_ASKS mark it given up.
      record.asks++;
      this.options.metrics.gapFillGivenUp.inc();
      const { boot, fromSeq, toSeq } = gap;
      this.options.log.warn({ device, boot, fromSeq, toSeq, asks: MAX_ASKS }, 'gap filling: the agent did not send this gap again; giving up on it');
    }
    return false;
  }

  private async ask(device: string, gap: Range, asked: Asked[], now: number): Promise<void> {
    const { boot, fromSeq, toSeq } = gap;
    const asks = 1 + Math.max(0, ...asked.filter((record) => overlaps(record, gap)).map((record) => record.asks));
    asked.push({ boot, fromSeq, toSeq, at: now, asks });
    this.busy.add(device);
    const { log } = this.options;
    try {
      const answer = await this.options.commands.send({
        device,
        command: 'resend',
        args: { boot, fromSeq, toSeq },
        timeoutMs: this.options.timeoutMs,
        requester: REQUESTER,
      });
      log.info({ device, boot, fromSeq, toSeq, asks, outcome: answer.outcome, code: answer.code, data: answer.data }, 'gap filling: asked the agent to send a gap again');
    } catch (error) {
      // Offline, busy, no broker, no reply: the next ask waits repeatMs like any other.
      const code = error instanceof CommandError ? error.code : undefined;
      log[code ? 'info' : 'error']({ err: code ? undefined : error, code, device, boot, fromSeq, toSeq }, 'gap filling: resend not answered');
    } finally {
      this.busy.delete(device);
    }
  }
}

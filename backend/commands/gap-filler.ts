import type { Logger } from 'pino';
import type { BackendMetrics } from '../metrics.js';
import type { DeviceRegistry } from '../registry/device-registry.js';
import type { ReadingStore, SeqGap } from '../store/reading-store.js';
import type { CommandSender } from './command-client.js';
import { CommandError } from './command-errors.js';

export interface GapFillerOptions {
  store: Pick<ReadingStore, 'gaps'>;
  registry: Pick<DeviceRegistry, 'get' | 'list'>;
  commands: CommandSender;
  metrics: BackendMetrics;
  log: Logger;
  /** A gap must stay open this long before it is asked for (commands.fillGapsAfterMs, > 0); replays hold asks off as long. */
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
/**
 * Resends waiting for their reply, across the fleet. After an outage every device may have gaps;
 * the fleet-wide commands.maxInFlight is shared with people at the dashboard, who must not get 429.
 */
export const MAX_RESENDS_IN_FLIGHT = 2;
/** Gaps read per store query; the oldest first, so a long list is worked through in order. */
const GAPS_PER_PAGE = 64;
/** Pages read per device and check while they hold only given-up gaps (a bound on the work, 4096 gaps). */
const MAX_PAGES = 64;
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
/** A resend that went out (published), or a gap given up. */
interface Asked extends Range {
  at: number;
  asks: number;
  givenUp: boolean;
}
type Position = { boot: string; fromSeq: number };

const overlaps = (a: Range, b: Range) => a.boot === b.boot && a.fromSeq <= b.toSeq && b.fromSeq <= a.toSeq;
/** In the store's (boot, fromSeq) order, whether `range` lies past `position`. */
const beyond = (range: Range, position: Position) =>
  range.boot > position.boot || (range.boot === position.boot && range.fromSeq > position.fromSeq);
/** The agent's resend reply data (agent/commands/resend.ts) says it held none of the range. */
const heldNone = (data: unknown) => typeof data === 'object' && data !== null && (data as { held?: unknown }).held === 0;

/**
 * Gap filling: a seq gap is a reading that never reached the store, which the agent may still
 * hold in its outbox (it deletes a reading only once the backend confirms it). A gap that stays
 * open for `fillAfterMs` on an online device is asked for with the `resend` command: one gap at
 * a time per device, MAX_RESENDS_IN_FLIGHT in all, the same gap at most every `repeatMs` and
 * MAX_ASKS times (only asks that went out count). Gaps usually close on their own (reordering,
 * the agent's own resends), hence the wait; and nothing is asked of a boot whose replayed
 * readings arrived within `fillAfterMs`: the agent is still catching up. A gap the agent says it
 * holds none of is given up at once. Given-up gaps are paged past, so they never hide newer ones.
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
  /** `device boot` → when replayed readings of it last arrived. */
  private readonly replays = new Map<string, number>();
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

  /** Ingest's `received` event for a batch with readings marked `replay`: this boot is catching up. */
  replayed(device: string, boot: string, at: number): void {
    const key = `${device} ${boot}`;
    this.replays.set(key, Math.max(at, this.replays.get(key) ?? 0));
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
    for (const [key, at] of this.replays) if (now - at >= this.options.fillAfterMs) this.replays.delete(key);
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
    const before = this.asked.get(device) ?? [];
    const { gaps, through } = await this.openGaps(device, before);
    if (gaps.length === 0) {
      this.watched.delete(device);
      this.firstSeen.delete(device);
      this.asked.delete(device);
      return;
    }
    // What lies past the pages read is kept as it was; what was read is brought up to date.
    const unread = (range: Range) => through !== undefined && beyond(range, through);
    // A gap that shrank or split keeps its age: those readings have been missing since then.
    const earlier = this.firstSeen.get(device) ?? [];
    const seen = gaps.map((gap) => ({ ...gap, at: Math.min(now, ...earlier.filter((old) => overlaps(old, gap)).map((old) => old.at)) }));
    this.firstSeen.set(device, [...seen, ...earlier.filter(unread)]);
    // What was asked for and has closed since is forgotten; what is still open keeps its count.
    const asked = before.filter((record) => unread(record) || gaps.some((gap) => overlaps(record, gap)));
    this.asked.set(device, asked);
    for (const gap of seen) this.giveUpIfAskedOut(device, gap, asked, now);
    if (this.busy.has(device) || this.busy.size >= MAX_RESENDS_IN_FLIGHT) return;
    if (this.options.registry.get(device)?.status?.state !== 'online') return;
    const due = seen.find(
      (gap) => now - gap.at >= this.options.fillAfterMs && !this.catchingUp(device, gap.boot, now) && this.mayAsk(gap, asked, now),
    );
    if (due) void this.ask(device, due, now);
  }

  /** The open gaps from the oldest on, paging past pages that hold only given-up gaps; `through`: where reading stopped short of the end. */
  private async openGaps(device: string, asked: Asked[]): Promise<{ gaps: SeqGap[]; through: Position | undefined }> {
    const gaps: SeqGap[] = [];
    let after: Position | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, truncated, next } = await this.options.store.gaps({ device, limit: GAPS_PER_PAGE, after });
      gaps.push(...items);
      const last = items.at(-1);
      after = next ?? (last && { boot: last.boot, fromSeq: last.fromSeq });
      if (!truncated || !after) return { gaps, through: undefined };
      if (items.some((gap) => !this.givenUp(gap, asked))) break;
    }
    return { gaps, through: after };
  }

  private givenUp(gap: Range, asked: Asked[]): boolean {
    return asked.some((record) => record.givenUp && overlaps(record, gap));
  }

  private catchingUp(device: string, boot: string, now: number): boolean {
    const at = this.replays.get(`${device} ${boot}`);
    return at !== undefined && now - at < this.options.fillAfterMs;
  }

  private mayAsk(gap: Range, asked: Asked[], now: number): boolean {
    const earlier = asked.filter((record) => overlaps(record, gap));
    return !earlier.some((record) => record.givenUp || now - record.at < this.options.repeatMs);
  }

  /** Asked MAX_ASKS times, the last one repeatMs ago, and still open: the agent does not hold it. */
  private giveUpIfAskedOut(device: string, gap: Range, asked: Asked[], now: number): void {
    const earlier = asked.filter((record) => overlaps(record, gap));
    if (earlier.some((record) => record.givenUp || now - record.at < this.options.repeatMs)) return;
    const most = earlier.reduce<Asked | undefined>((top, next) => (next.asks > (top?.asks ?? 0) ? next : top), undefined);
    if (most && most.asks >= MAX_ASKS) this.giveUp(device, most, gap, `the agent did not send this gap again after ${most.asks} asks`);
  }

  /** Counted and logged once per gap; it is not asked for again while it stays open. */
  private giveUp(device: string, record: Asked, gap: Range, why: string): void {
    record.givenUp = true;
    this.options.metrics.gapFillGivenUp.inc();
    const { boot, fromSeq, toSeq } = gap;
    this.options.log.warn({ device, boot, fromSeq, toSeq, asks: record.asks }, `gap filling: ${why}; giving up on it`);
  }

  private async ask(device: string, gap: Range, now: number): Promise<void> {
    const { boot, fromSeq, toSeq } = gap;
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
      const record = this.counted(device, gap, now);
      log.info(
        { device, boot, fromSeq, toSeq, asks: record?.asks, outcome: answer.outcome, code: answer.code, data: answer.data },
        'gap filling: asked the agent to send a gap again',
      );
      if (record && answer.outcome === 'ok' && heldNone(answer.data))
        this.giveUp(device, record, gap, 'the agent holds none of this gap any more');
    } catch (error) {
      const code = error instanceof CommandError ? error.code : undefined;
      // A timeout went out: it counts. Refused before publishing (offline, busy, no broker) does not: asked again at the next check.
      if (code === 'COMMAND_TIMEOUT') this.counted(device, gap, now);
      log[code ? 'info' : 'error'](
        { err: code ? undefined : error, code, device, boot, fromSeq, toSeq },
        'gap filling: resend not answered',
      );
    } finally {
      this.busy.delete(device);
    }
  }

  /** Records an ask that went out; `undefined` once the device's gaps have closed meanwhile. */
  private counted(device: string, gap: Range, now: number): Asked | undefined {
    const asked = this.asked.get(device);
    if (!asked) return undefined;
    const asks = 1 + Math.max(0, ...asked.filter((record) => overlaps(record, gap)).map((record) => record.asks));
    const record: Asked = { boot: gap.boot, fromSeq: gap.fromSeq, toSeq: gap.toSeq, at: now, asks, givenUp: false };
    asked.push(record);
    return record;
  }
}

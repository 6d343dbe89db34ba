import type { Logger } from 'pino';
import type { BackendConfig } from '../../config.js';
import type { ChannelItem } from '../types.js';
import type { DeliveryChannel } from './channel.js';
import { DeliveryError } from './errors.js';
import { postJson } from './http-post.js';
import { sign } from './signature.js';

/** One entry of `alerts.webhooks`. */
export type WebhookSettings = BackendConfig['alerts']['webhooks'][number];

export const WEBHOOK_BODY_VERSION = 1;

/** The channel (and outbox) name of a webhook. */
export const webhookChannelName = (name: string) => `webhook:${name}`;

export interface WebhookChannelOptions {
  /** The clock of X-Furnace-Timestamp. */
  now?: () => number;
}

/**
 * POSTs each notified transition, as JSON, to one HTTP endpoint (README.md in this folder is the
 * receiver's guide). Any answer but a 2xx, or none within timeoutMs, fails the attempt and the
 * dispatcher retries it: 4xx too, since a receiver misconfigured for a while should get the events
 * once it is fixed, rather than lose them.
 */
export class WebhookChannel implements DeliveryChannel {
  readonly name: string;
  private readonly now: () => number;
  private readonly target: string;
  private readonly url: URL;
  private readonly inFlight = new Set<AbortController>();
  private closed = false;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly log: Logger,
    options: WebhookChannelOptions = {},
  ) {
    this.name = webhookChannelName(settings.name);
    this.now = options.now ?? Date.now;
    this.url = new URL(settings.url);
    this.target = redact(this.url);
  }

  wants(item: ChannelItem): boolean {
    return item.kind === 'transition' && !item.silenced && this.settings.transitions.includes(item.event.to);
  }

  async deliver(item: ChannelItem): Promise<void> {
    if (this.closed) throw new DeliveryError('ALERT_DELIVERY_CLOSED', `webhook ${this.settings.name} is closed`);
    // A forget has nothing to tell a webhook (wants() keeps it out of the outbox); a transition
    // already enqueued is sent even if the settings changed since, as it was promised.
    if (item.kind !== 'transition') return;
    const body = JSON.stringify({ v: WEBHOOK_BODY_VERSION, event: item.event, state: item.state });
    const timestamp = String(this.now());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-furnace-event-id': item.event.id,
      'x-furnace-timestamp': timestamp,
    };
    if (this.settings.secret !== undefined) headers['x-furnace-signature'] = sign(this.settings.secret, timestamp, body);
    const { timeoutMs } = this.settings;
    const abort = new AbortController();
    // The timeout covers the whole exchange, the answer's body included.
    const timeout = new DeliveryError('ALERT_DELIVERY_HTTP_TIMEOUT', `POST ${this.target}: no answer within ${timeoutMs} ms`);
    const timer = setTimeout(() => abort.abort(timeout), timeoutMs);
    this.inFlight.add(abort);
    let status: number;
    try {
      status = await postJson(this.url, headers, body, abort.signal);
    } catch (error) {
      throw this.explain(abort.signal.aborted ? abort.signal.reason : error);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(abort);
    }
    if (status < 200 || status > 299) throw new DeliveryError('ALERT_DELIVERY_HTTP_STATUS', `POST ${this.target} answered ${status}`);
    this.log.debug({ eventId: item.event.id, status }, 'webhook delivered');
  }

  close(): Promise<void> {
    this.closed = true;
    const closing = new DeliveryError('ALERT_DELIVERY_CLOSED', `webhook ${this.settings.name} closed during the attempt`);
    for (const abort of this.inFlight) abort.abort(closing);
    return Promise.resolve();
  }

  private explain(error: unknown): DeliveryError {
    if (error instanceof DeliveryError) return error;
    // A network error says why in its code (ECONNREFUSED, ECONNRESET, ENOTFOUND).
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const reason = code ?? (error instanceof Error ? error.message : String(error));
    return new DeliveryError('ALERT_DELIVERY_HTTP_FAILED', `POST ${this.target} failed: ${reason}`, { cause: error });
  }
}

/** The URL for logs: without user info and query, which often carry credentials. */
function redact(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

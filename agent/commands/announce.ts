import type { Presence } from '../mqtt/presence.js';
import { type CommandHandler, ok } from './handler.js';

/** announce: the retained birth (`online`) and sensor states published again; ok once the broker took both. */
export function announceHandler(presence: Presence): CommandHandler<'announce'> {
  return async (_args, { waitingFor }) => {
    waitingFor(() => 'the broker did not acknowledge the birth and sensor states');
    await presence.announce();
    return ok({ published: ['status', 'sensors'] });
  };
}

import type { Api } from './api.js';
import type { ActiveAlert } from './api-types.js';
import { h } from './dom.js';

// The buttons of one alarm: acknowledge with a comment, silence for a chosen time. Only shown
// to a token with the admin scope (a read-only token would get 403).

export const SILENCE_CHOICES = [
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 3_600_000 },
  { label: '4 h', ms: 4 * 3_600_000 },
  { label: '24 h', ms: 86_400_000 },
] as const;

export function alarmActions(api: Api, alert: ActiveAlert, done: (message: string) => void): HTMLElement {
  const comment = h('input', {
    type: 'text',
    name: 'comment',
    maxlength: 1000,
    placeholder: 'comment (what was done, who is on it)',
    'aria-label': 'comment',
  });
  const ack = h('form', {
    class: 'ack',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const text = comment.value.trim();
      api
        .post(`/api/v1/alerts/${encodeURIComponent(alert.id)}/ack`, text === '' ? {} : { comment: text })
        .then(() => done('acknowledged'))
        .catch((error: unknown) => done(`acknowledge failed: ${(error as Error).message}`));
    },
  });
  ack.append(comment, h('button', { type: 'submit', class: 'primary' }, 'Acknowledge'));

  const choice = h(
    'select',
    { name: 'silence-for', 'aria-label': 'silence for' },
    ...SILENCE_CHOICES.map((c) => h('option', { value: c.ms }, c.label)),
  );
  const silence = h('form', {
    class: 'silence',
    onsubmit: (event: Event) => {
      event.preventDefault();
      const matchers = { device: alert.device, rule: alert.rule, ...(alert.sensor === undefined ? {} : { sensor: alert.sensor }) };
      const endsAt = Date.now() + Number(choice.value);
      api
        .post('/api/v1/silences', { matchers, endsAt, comment: `silenced from the dashboard: ${alert.message}`.slice(0, 1000) })
        .then(() => done('silenced'))
        .catch((error: unknown) => done(`silence failed: ${(error as Error).message}`));
    },
  });
  silence.append(choice, h('button', { type: 'submit' }, 'Silence'));
  return h('div', { class: 'actions' }, alert.acknowledged ? null : ack, silence);
}

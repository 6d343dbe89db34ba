import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { ClockState } from '../../contract/index.js';
import type { AgentMetrics } from '../health/metrics.js';
import type { DurableOutbox } from '../outbox/outbox.js';
import type { Presence } from '../mqtt/presence.js';
import type { SensorControl } from '../readings/sensor-control.js';
import type { SensorHealthBoard } from '../readings/sensor-health.js';
import { announceHandler } from './announce.js';
import { type CommandChannel, attachCommandChannel } from './channel.js';
import { CommandDispatcher } from './dispatcher.js';
import type { CommandHandlers } from './handler.js';
import { type OutboxSources, outboxHandler } from './outbox.js';
import { type PingSources, pingHandler } from './ping.js';
import { readNowHandler } from './read-now.js';
import { resendHandler } from './resend.js';
import { setIntervalHandler } from './set-interval.js';

// The agent's commands (contract: cmd/v1/{device}/{command}): one handler per command in its own
// file, one dispatcher for what every request goes through (refusals, the cache, deadlines,
// metrics), one channel for MQTT.

export interface CommandDependencies {
  client: MqttClient;
  device: string;
  control: SensorControl;
  board: SensorHealthBoard;
  presence: Presence;
  outbox: OutboxSources & { outbox: DurableOutbox };
  /** The publisher sends what was made waiting again. */
  resend: () => void;
  ping: PingSources;
  clock: () => ClockState;
  metrics: AgentMetrics;
  log: Logger;
}

export function commandHandlers(deps: Omit<CommandDependencies, 'client' | 'device' | 'clock' | 'metrics' | 'log'>): CommandHandlers {
  return {
    'read-now': readNowHandler(deps.control, deps.board),
    'set-interval': setIntervalHandler(deps.control),
    announce: announceHandler(deps.presence),
    outbox: outboxHandler(deps.outbox),
    resend: resendHandler(deps.outbox.outbox, deps.resend),
    ping: pingHandler(deps.ping),
  };
}

/** Answers this device's commands on `client` until `stop()`. */
export function serveCommands(deps: CommandDependencies): CommandChannel {
  const { client, device, clock, metrics, log } = deps;
  const dispatcher = new CommandDispatcher({ handlers: commandHandlers(deps), clock, metrics, log });
  return attachCommandChannel({ client, device, dispatcher, metrics, log });
}

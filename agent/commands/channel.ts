import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { type CommandReply, encodePayload, filters, parseTopic, topics } from '../../contract/index.js';
import type { AgentMetrics } from '../health/metrics.js';
import type { CommandDispatcher } from './dispatcher.js';

export interface CommandChannelOptions {
  client: MqttClient;
  device: string;
  dispatcher: CommandDispatcher;
  metrics: Pick<AgentMetrics, 'commandsDropped'>;
  log: Logger;
}

export interface CommandChannel {
  /** The broker granted the subscription to this device's commands (at the last connection). */
  readonly subscribed: boolean;
  /** Answers nothing more; running commands end (AGENT_STOPPING), and their replies go out if the broker is there. */
  stop(): void;
}

/**
 * The agent's end of cmd/v1/{device}/{command}: subscribes (QoS 1) at every connection, since
 * the agent's session is clean and a broker keeps no subscription for it; hands each request to
 * the dispatcher without waiting for it, so the next request is not held up; publishes each
 * reply on cmd/v1/{device}/{command}/reply, QoS 1, not retained (a reply is for the one who asked).
 */
export function attachCommandChannel({ client, device, dispatcher, metrics, log }: CommandChannelOptions): CommandChannel {
  const filter = filters.commandsFor(device);
  const prefix = `cmd/v1/${device}/`;
  let subscribed = false;
  let stopped = false;
  // First of the connect listeners: the SUBSCRIBE goes out before the birth, so by the time the
  // registry says `online` the broker already routes commands here (the session is clean: a request
  // published before the SUBSCRIBE would be lost).
  client.prependListener('connect', () => {
    client.subscribe(filter, { qos: 1 }, (error, granted) => {
      subscribed = !error && granted?.[0]?.qos !== 128;
      // Without it every command to this device times out at the requester: say why, loudly.
      if (!subscribed)
        log.error({ err: error, filter }, 'cannot subscribe to the commands (broker ACL?); commands to this agent go unanswered');
    });
  });
  client.on('close', () => (subscribed = false));
  client.on('message', (topic, payload) => {
    if (stopped || !topic.startsWith(prefix)) return;
    const parsed = parseTopic(topic);
    if (parsed?.kind !== 'command' || parsed.device !== device) {
      // Under our filter but not a command topic of the contract (a level the contract refuses): nobody to answer.
      metrics.commandsDropped.inc({ cause: 'topic' });
      log.debug({ topic }, 'message on a command topic that is not one; dropped');
      return;
    }
    dispatcher.handle(parsed.command, payload).then(
      (reply) => reply && publish(reply),
      (error: unknown) => {
        metrics.commandsDropped.inc({ cause: 'dispatcher_failed' });
        log.error({ err: error, topic }, 'command not answered: the dispatcher failed');
      },
    );
  });

  function publish(reply: CommandReply): void {
    // The reply's own command: a duplicate answered from the cache goes where the first reply went.
    const topic = topics.commandReply(device, reply.command);
    client.publish(topic, encodePayload(reply), { qos: 1, retain: false }, (error) => {
      if (!error) return;
      // The requester gets a 504; the reply is not sent again (it would be late by then).
      metrics.commandsDropped.inc({ cause: 'reply_unpublished' });
      log.warn({ err: error, topic, requestId: reply.requestId }, 'command reply not acknowledged by the broker');
    });
  }

  return {
    get subscribed() {
      return subscribed;
    },
    stop() {
      stopped = true;
      dispatcher.stop();
    },
  };
}

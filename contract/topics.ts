import { assertSegment, isDeviceId } from './device-id.js';
import { ContractError } from './errors.js';

/** A topic of the contract, parsed. Every topic in DESIGN.md has one variant. */
export type ContractTopic =
  | { kind: 'readings'; device: string }
  | { kind: 'status'; device: string }
  | { kind: 'sensors'; device: string }
  | { kind: 'stored'; device: string }
  | { kind: 'alert-state'; device: string; rule: string }
  | { kind: 'alert-events' }
  | { kind: 'command'; device: string; command: string }
  | { kind: 'command-reply'; device: string; command: string };

/** Builders: each checks its names, so a bad id fails here rather than on the wire. */
export const topics = {
  readings: (device: string) => deviceTopic('telemetry', device, 'readings'),
  status: (device: string) => deviceTopic('telemetry', device, 'status'),
  sensors: (device: string) => deviceTopic('telemetry', device, 'sensors'),
  /** backend → agent: what the backend has committed (retained); only the backend may publish it. */
  stored: (device: string) => deviceTopic('telemetry', device, 'stored'),
  alertState(device: string, rule: string): string {
    assertSegment('device id', device);
    if (device === 'events') {
      throw new ContractError(
        'CONTRACT_INVALID_SEGMENT',
        'device id "events" is reserved on alerts/v1/ (alerts/v1/events is the event stream)',
      );
    }
    assertSegment('rule id', rule);
    return `alerts/v1/${device}/${rule}`;
  },
  alertEvents: () => 'alerts/v1/events',
  command(device: string, command: string): string {
    assertSegment('device id', device);
    assertSegment('command', command);
    return `cmd/v1/${device}/${command}`;
  },
  commandReply: (device: string, command: string) => `${topics.command(device, command)}/reply`,
} as const;

/** Subscription filters for the readers of the contract. */
export const filters = {
  allReadings: 'telemetry/v1/+/readings',
  allStatus: 'telemetry/v1/+/status',
  allSensors: 'telemetry/v1/+/sensors',
  allAlertStates: 'alerts/v1/+/+',
  alertEvents: 'alerts/v1/events',
  allCommandReplies: 'cmd/v1/+/+/reply',
  commandsFor(device: string): string {
    assertSegment('device id', device);
    return `cmd/v1/${device}/+`;
  },
} as const;

function deviceTopic(root: string, device: string, leaf: string): string {
  assertSegment('device id', device);
  return `${root}/v1/${device}/${leaf}`;
}

/** Parses a topic; `undefined` for anything that is not exactly a contract topic. */
export function parseTopic(topic: string): ContractTopic | undefined {
  const [root, version, a, b, c, ...rest] = topic.split('/');
  if (version !== 'v1' || rest.length > 0) return undefined;
  if (root === 'telemetry' && isDeviceId(a) && c === undefined) {
    if (b === 'readings' || b === 'status' || b === 'sensors' || b === 'stored') return { kind: b, device: a };
    return undefined;
  }
  if (root === 'alerts') {
    if (a === 'events' && b === undefined) return { kind: 'alert-events' };
    // `events` is a reserved level, so no device may be called that on this root.
    if (a !== 'events' && isDeviceId(a) && isDeviceId(b) && c === undefined) {
      return { kind: 'alert-state', device: a, rule: b };
    }
    return undefined;
  }
  if (root === 'cmd' && isDeviceId(a) && isDeviceId(b)) {
    if (c === undefined) return { kind: 'command', device: a, command: b };
    if (c === 'reply') return { kind: 'command-reply', device: a, command: b };
  }
  return undefined;
}

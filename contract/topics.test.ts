import { describe, expect, it } from 'vitest';
import { CONTRACT_VERSION, ContractError, filters, isDeviceId, parseTopic, topics, type ContractTopic } from './index.js';

/** Ids that DESIGN.md allows: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
const GOOD_IDS = ['a', 'furnace-1', 'Kiln_02', '0', '-', '_', 'A-Z_a-z_0-9', 'x'.repeat(64)];

/** Ids that must be refused everywhere, with why. */
const BAD_IDS: ReadonlyArray<[string, string]> = [
  ['', 'empty'],
  ['x'.repeat(65), '65 characters'],
  ['+', 'single-level wildcard'],
  ['#', 'multi-level wildcard'],
  ['/', 'level separator'],
  ['dev+', 'wildcard inside'],
  ['dev#', 'wildcard at the end'],
  ['a/b', 'separator inside'],
  ['furnace 1', 'space inside'],
  [' furnace', 'leading space'],
  ['furnace ', 'trailing space'],
  ['furnace\n', 'trailing newline'],
  ['furnace\t1', 'tab'],
  ['fürnace', 'latin-1 letter'],
  ['炉', 'CJK'],
  ['dev🔥', 'astral emoji'],
  ['dev.1', 'dot'],
  ['dev\u0000', 'NUL'],
];

/** MQTT 3.1.1 topic filter matching (section 4.7), to check the filters against built topics. */
function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function expectSegmentError(build: () => unknown, what: string): void {
  let caught: unknown;
  try {
    build();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ContractError);
  const error = caught as ContractError;
  expect(error.code).toBe('CONTRACT_INVALID_SEGMENT');
  expect(error.name).toBe('ContractError');
  expect(error.message).toContain(what);
}

describe('topic builders', () => {
  it('build every topic of DESIGN.md with the contract version in it', () => {
    expect(CONTRACT_VERSION).toBe(1);
    expect(topics.readings('furnace-1')).toBe('telemetry/v1/furnace-1/readings');
    expect(topics.status('furnace-1')).toBe('telemetry/v1/furnace-1/status');
    expect(topics.sensors('furnace-1')).toBe('telemetry/v1/furnace-1/sensors');
    expect(topics.stored('furnace-1')).toBe('telemetry/v1/furnace-1/stored');
    expect(topics.alertState('furnace-1', 'overtemp')).toBe('alerts/v1/furnace-1/overtemp');
    expect(topics.alertEvents()).toBe('alerts/v1/events');
    expect(topics.command('furnace-1', 'read-now')).toBe('cmd/v1/furnace-1/read-now');
    expect(topics.commandReply('furnace-1', 'read-now')).toBe('cmd/v1/furnace-1/read-now/reply');
  });

  it.each(GOOD_IDS)('accept the allowed id %j in every position', (id) => {
    expect(isDeviceId(id)).toBe(true);
    expect(topics.readings(id)).toBe(`telemetry/v1/${id}/readings`);
    expect(topics.status(id)).toBe(`telemetry/v1/${id}/status`);
    expect(topics.sensors(id)).toBe(`telemetry/v1/${id}/sensors`);
    expect(topics.alertState(id, id)).toBe(`alerts/v1/${id}/${id}`);
    expect(topics.command(id, id)).toBe(`cmd/v1/${id}/${id}`);
    expect(topics.commandReply(id, id)).toBe(`cmd/v1/${id}/${id}/reply`);
    expect(filters.commandsFor(id)).toBe(`cmd/v1/${id}/+`);
  });

  describe.each(BAD_IDS)('refuse the id %j (%s)', (bad) => {
    it('is not a device id', () => {
      expect(isDeviceId(bad)).toBe(false);
    });

    it('as a device in every builder', () => {
      expectSegmentError(() => topics.readings(bad), 'device id');
      expectSegmentError(() => topics.status(bad), 'device id');
      expectSegmentError(() => topics.sensors(bad), 'device id');
      expectSegmentError(() => topics.alertState(bad, 'overtemp'), 'device id');
      expectSegmentError(() => topics.command(bad, 'read-now'), 'device id');
      expectSegmentError(() => topics.commandReply(bad, 'read-now'), 'device id');
      expectSegmentError(() => filters.commandsFor(bad), 'device id');
    });

    it('as a rule or a command', () => {
      expectSegmentError(() => topics.alertState('furnace-1', bad), 'rule id');
      expectSegmentError(() => topics.command('furnace-1', bad), 'command');
      expectSegmentError(() => topics.commandReply('furnace-1', bad), 'command');
    });

    it('and the message quotes the refused value', () => {
      expectSegmentError(() => topics.readings(bad), JSON.stringify(bad));
    });
  });

  it('isDeviceId refuses what is not a string', () => {
    for (const value of [undefined, null, 1, {}, ['a'], true]) expect(isDeviceId(value)).toBe(false);
  });
});

describe('parseTopic', () => {
  it('parses every topic kind', () => {
    expect(parseTopic('telemetry/v1/furnace-1/readings')).toEqual({ kind: 'readings', device: 'furnace-1' });
    expect(parseTopic('telemetry/v1/furnace-1/status')).toEqual({ kind: 'status', device: 'furnace-1' });
    expect(parseTopic('telemetry/v1/furnace-1/sensors')).toEqual({ kind: 'sensors', device: 'furnace-1' });
    expect(parseTopic('telemetry/v1/furnace-1/stored')).toEqual({ kind: 'stored', device: 'furnace-1' });
    expect(parseTopic('alerts/v1/furnace-1/overtemp')).toEqual({
      kind: 'alert-state',
      device: 'furnace-1',
      rule: 'overtemp',
    });
    expect(parseTopic('alerts/v1/events')).toEqual({ kind: 'alert-events' });
    expect(parseTopic('cmd/v1/furnace-1/read-now')).toEqual({
      kind: 'command',
      device: 'furnace-1',
      command: 'read-now',
    });
    expect(parseTopic('cmd/v1/furnace-1/read-now/reply')).toEqual({
      kind: 'command-reply',
      device: 'furnace-1',
      command: 'read-now',
    });
  });

  describe.each(GOOD_IDS)('round trips with the id %j', (id) => {
    const cases: Array<[string, ContractTopic]> = [
      [topics.readings(id), { kind: 'readings', device: id }],
      [topics.status(id), { kind: 'status', device: id }],
      [topics.sensors(id), { kind: 'sensors', device: id }],
      [topics.alertState(id, 'overtemp'), { kind: 'alert-state', device: id, rule: 'overtemp' }],
      [topics.alertState('furnace-1', id), { kind: 'alert-state', device: 'furnace-1', rule: id }],
      [topics.command(id, 'read-now'), { kind: 'command', device: id, command: 'read-now' }],
      [topics.command('furnace-1', id), { kind: 'command', device: 'furnace-1', command: id }],
      [topics.commandReply(id, 'set-interval'), { kind: 'command-reply', device: id, command: 'set-interval' }],
      [topics.commandReply('furnace-1', id), { kind: 'command-reply', device: 'furnace-1', command: id }],
    ];
    it.each(cases)('%s', (topic, parsed) => {
      expect(parseTopic(topic)).toEqual(parsed);
    });
  });

  it('round trips the alert events topic', () => {
    expect(parseTopic(topics.alertEvents())).toEqual({ kind: 'alert-events' });
  });

  it('keeps names that equal a leaf word where the level is a name', () => {
    // A device called "readings", a rule called "events", a command called "reply".
    expect(parseTopic(topics.readings('readings'))).toEqual({ kind: 'readings', device: 'readings' });
    expect(parseTopic(topics.readings('events'))).toEqual({ kind: 'readings', device: 'events' });
    expect(parseTopic(topics.alertState('furnace-1', 'events'))).toEqual({
      kind: 'alert-state',
      device: 'furnace-1',
      rule: 'events',
    });
    expect(parseTopic(topics.command('furnace-1', 'reply'))).toEqual({
      kind: 'command',
      device: 'furnace-1',
      command: 'reply',
    });
    expect(parseTopic(topics.commandReply('furnace-1', 'reply'))).toEqual({
      kind: 'command-reply',
      device: 'furnace-1',
      command: 'reply',
    });
  });

  it('treats `events` as reserved on the alerts root', () => {
    expect(parseTopic('alerts/v1/events/overtemp')).toBeUndefined();
    // The builder agrees, so an alert state can never be published where no reader parses it.
    expect(() => topics.alertState('events', 'overtemp')).toThrow(/reserved/);
  });

  describe.each(BAD_IDS)('refuses the id %j (%s)', (bad) => {
    const templates = [
      `telemetry/v1/${bad}/readings`,
      `telemetry/v1/${bad}/status`,
      `telemetry/v1/${bad}/sensors`,
      `alerts/v1/${bad}/overtemp`,
      `alerts/v1/furnace-1/${bad}`,
      `cmd/v1/${bad}/read-now`,
      `cmd/v1/furnace-1/${bad}`,
      `cmd/v1/${bad}/read-now/reply`,
      `cmd/v1/furnace-1/${bad}/reply`,
    ];
    it.each(templates)('in %j', (topic) => {
      expect(parseTopic(topic)).toBeUndefined();
    });
  });

  it.each([
    'telemetry/v2/furnace-1/readings',
    'telemetry/v2/furnace-1/status',
    'telemetry/v2/furnace-1/sensors',
    'alerts/v2/furnace-1/overtemp',
    'alerts/v2/events',
    'cmd/v2/furnace-1/read-now',
    'cmd/v2/furnace-1/read-now/reply',
    'telemetry/V1/furnace-1/readings',
    'telemetry/1/furnace-1/readings',
    'telemetry/v01/furnace-1/readings',
    'telemetry//furnace-1/readings',
  ])('refuses a wrong version: %j', (topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it.each([
    'telemetry/v1/furnace-1/readings/extra',
    'telemetry/v1/furnace-1/status/extra',
    'telemetry/v1/furnace-1/sensors/extra',
    'telemetry/v1/furnace-1/readings/',
    'alerts/v1/furnace-1/overtemp/extra',
    'alerts/v1/furnace-1/overtemp/',
    'alerts/v1/events/',
    'alerts/v1/events/extra/more',
    'cmd/v1/furnace-1/read-now/reply/extra',
    'cmd/v1/furnace-1/read-now/reply/',
    'cmd/v1/furnace-1/read-now/',
    'cmd/v1/a/b/c/d/e/f',
  ])('refuses extra levels: %j', (topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it.each([
    '',
    '/',
    'telemetry',
    'telemetry/v1',
    'telemetry/v1/furnace-1',
    'telemetry/v1/furnace-1/',
    'alerts',
    'alerts/v1',
    'alerts/v1/',
    'alerts/v1/furnace-1',
    'cmd/v1',
    'cmd/v1/furnace-1',
    'cmd/v1/furnace-1/',
  ])('refuses missing levels: %j', (topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it.each([
    'telemetry/v1/furnace-1/reading',
    'telemetry/v1/furnace-1/Readings',
    'telemetry/v1/furnace-1/health',
    'telemetry/v1/furnace-1/+',
    'telemetry/v1/furnace-1/#',
    'cmd/v1/furnace-1/read-now/replies',
    'cmd/v1/furnace-1/read-now/Reply',
    'cmd/v1/furnace-1/read-now/+',
    'alerts/v1/Events',
    'alerts/v1/+',
    'alerts/v1/#',
    'Telemetry/v1/furnace-1/readings',
    'telemetry /v1/furnace-1/readings',
    'metrics/v1/furnace-1/readings',
    'cmd/v1/events',
    '/telemetry/v1/furnace-1/readings',
    '$SYS/v1/furnace-1/readings',
  ])('refuses unknown roots and leaves: %j', (topic) => {
    expect(parseTopic(topic)).toBeUndefined();
  });

  it('never parses a subscription filter as a topic', () => {
    for (const filter of [
      filters.allReadings,
      filters.allStatus,
      filters.allSensors,
      filters.allAlertStates,
      filters.commandsFor('furnace-1'),
      'telemetry/v1/#',
      'cmd/v1/furnace-1/#',
    ]) {
      expect(parseTopic(filter)).toBeUndefined();
    }
  });
});

describe('filters', () => {
  it('are the documented wildcards', () => {
    expect(filters.allReadings).toBe('telemetry/v1/+/readings');
    expect(filters.allStatus).toBe('telemetry/v1/+/status');
    expect(filters.allSensors).toBe('telemetry/v1/+/sensors');
    expect(filters.allAlertStates).toBe('alerts/v1/+/+');
    expect(filters.alertEvents).toBe('alerts/v1/events');
    expect(filters.alertEvents).toBe(topics.alertEvents());
    expect(filters.commandsFor('furnace-1')).toBe('cmd/v1/furnace-1/+');
  });

  // Every topic of the contract for two devices, and which filter must receive it.
  const all = (device: string) => ({
    readings: topics.readings(device),
    status: topics.status(device),
    sensors: topics.sensors(device),
    alertState: topics.alertState(device, 'overtemp'),
    command: topics.command(device, 'read-now'),
    commandReply: topics.commandReply(device, 'read-now'),
  });
  const mine = all('furnace-1');
  const theirs = all('furnace-2');
  const everything = [...Object.values(mine), ...Object.values(theirs), topics.alertEvents()];

  const expectOnly = (filter: string, wanted: string[]) => {
    const got = everything.filter((topic) => matches(filter, topic));
    expect(got.sort()).toEqual([...wanted].sort());
  };

  it('allReadings receives the readings of every device and nothing else', () => {
    expectOnly(filters.allReadings, [mine.readings, theirs.readings]);
  });

  it('allStatus receives the status of every device and nothing else', () => {
    expectOnly(filters.allStatus, [mine.status, theirs.status]);
  });

  it('allSensors receives the sensors health of every device and nothing else', () => {
    expectOnly(filters.allSensors, [mine.sensors, theirs.sensors]);
  });

  it('allAlertStates receives alert states but not the events stream', () => {
    expectOnly(filters.allAlertStates, [mine.alertState, theirs.alertState]);
  });

  it('alertEvents receives the events stream only', () => {
    expectOnly(filters.alertEvents, [topics.alertEvents()]);
  });

  it("commandsFor receives one device's commands, not replies nor other devices", () => {
    expectOnly(filters.commandsFor('furnace-1'), [mine.command]);
    expectOnly(filters.commandsFor('furnace-2'), [theirs.command]);
  });

  it('every topic a filter receives parses to the kind of that filter', () => {
    const kinds: Array<[string, ContractTopic['kind']]> = [
      [filters.allReadings, 'readings'],
      [filters.allStatus, 'status'],
      [filters.allSensors, 'sensors'],
      [filters.allAlertStates, 'alert-state'],
      [filters.alertEvents, 'alert-events'],
      [filters.commandsFor('furnace-1'), 'command'],
    ];
    for (const [filter, kind] of kinds) {
      const received = everything.filter((topic) => matches(filter, topic));
      expect(received.length).toBeGreaterThan(0);
      for (const topic of received) expect(parseTopic(topic)?.kind).toBe(kind);
    }
  });

  it('the test matcher itself follows MQTT wildcard rules', () => {
    expect(matches('a/+/c', 'a/b/c')).toBe(true);
    expect(matches('a/+/c', 'a/b/c/d')).toBe(false);
    expect(matches('a/+', 'a')).toBe(false);
    expect(matches('a/#', 'a/b/c')).toBe(true);
    expect(matches('a/b', 'a/c')).toBe(false);
  });
});

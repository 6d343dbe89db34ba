import { describe, expect, it } from 'vitest';
import { aclProblems, rightsFor } from './acl.js';
import { loadBrokerConfig } from '../config.js';

const { acl } = loadBrokerConfig(undefined, {}, { 'auth.allowAnonymous': 'true' });

describe('default ACL, following the MQTT contract', () => {
  it('a device publishes only its own readings, status, sensors and command replies', () => {
    const device = rightsFor(acl, 'device', 'dev-a');
    for (const topic of [
      'telemetry/v1/dev-a/readings',
      'telemetry/v1/dev-a/status',
      'telemetry/v1/dev-a/sensors',
      'cmd/v1/dev-a/read-now/reply',
    ]) {
      expect(device.canPublish(topic), topic).toBe(true);
    }
    const refused = [
      'telemetry/v1/dev-a/stored',
      'telemetry/v1/dev-a/other',
      'telemetry/v1/dev-a/readings/x',
      'telemetry/v1/dev-b/readings',
      'telemetry/v1/dev-b/stored',
      'alerts/v1/dev-a/high',
      'cmd/v1/dev-b/x/reply',
      'cmd/v1/dev-a/read-now',
      '$SYS/x',
      'other',
    ];
    for (const topic of refused) expect(device.canPublish(topic), topic).toBe(false);
  });

  it('a device subscribes only to its own commands and its own stored confirmation', () => {
    const device = rightsFor(acl, 'device', 'dev-a');
    for (const filter of ['cmd/v1/dev-a/+', 'cmd/v1/dev-a/read-now', 'telemetry/v1/dev-a/stored'])
      expect(device.canSubscribe(filter), filter).toBe(true);
    const refused = [
      'cmd/v1/+/+',
      'cmd/v1/dev-b/+',
      // Not even its own replies: it sent them.
      'cmd/v1/dev-a/#',
      'cmd/v1/dev-a/+/reply',
      'telemetry/v1/dev-b/readings',
      'telemetry/v1/dev-a/readings',
      'telemetry/v1/dev-b/stored',
      'telemetry/v1/+/stored',
      'telemetry/v1/dev-a/#',
      '#',
    ];
    for (const filter of refused) expect(device.canSubscribe(filter), filter).toBe(false);
    expect(device.canReceive('cmd/v1/dev-a/read-now')).toBe(true);
    expect(device.canReceive('cmd/v1/dev-a/read-now/reply')).toBe(false);
    expect(device.canReceive('telemetry/v1/dev-a/stored')).toBe(true);
    expect(device.canReceive('telemetry/v1/dev-b/readings')).toBe(false);
    expect(device.canReceive('telemetry/v1/dev-b/stored')).toBe(false);
  });

  it('the backend reads all telemetry and publishes alerts, commands and stored confirmations', () => {
    const backend = rightsFor(acl, 'backend', 'backend');
    expect(backend.canSubscribe('telemetry/v1/+/readings')).toBe(true);
    expect(backend.canSubscribe('telemetry/v1/#')).toBe(true);
    expect(backend.canSubscribe('#')).toBe(false);
    expect(backend.canPublish('alerts/v1/dev-a/high')).toBe(true);
    expect(backend.canPublish('alerts/v1/events')).toBe(true);
    expect(backend.canPublish('cmd/v1/dev-a/read-now')).toBe(true);
    expect(backend.canPublish('telemetry/v1/dev-a/stored')).toBe(true);
    expect(backend.canPublish('telemetry/v1/dev-a/readings')).toBe(false);
    expect(backend.canPublish('telemetry/v1/dev-a/status')).toBe(false);
  });

  it('a viewer reads alerts and status only, and publishes nothing', () => {
    const viewer = rightsFor(acl, 'viewer', 'eve');
    expect(viewer.canSubscribe('alerts/v1/#')).toBe(true);
    expect(viewer.canSubscribe('telemetry/v1/+/status')).toBe(true);
    expect(viewer.canSubscribe('telemetry/v1/+/readings')).toBe(false);
    expect(viewer.canSubscribe('telemetry/v1/#')).toBe(false);
    for (const topic of ['alerts/v1/events', 'telemetry/v1/x/status', 'anything']) expect(viewer.canPublish(topic)).toBe(false);
  });

  it('admin may do everything but publish to $SYS, and reads $SYS', () => {
    const admin = rightsFor(acl, 'admin', 'root');
    expect(admin.canPublish('telemetry/v1/x/readings')).toBe(true);
    expect(admin.canPublish('$SYS/x/heartbeat')).toBe(false);
    expect(admin.canSubscribe('#')).toBe(true);
    expect(admin.canSubscribe('$SYS/#')).toBe(true);
    expect(admin.canReceive('$SYS/x/heartbeat')).toBe(true);
  });

  it('patterns naming {username} give nothing to an anonymous client', () => {
    const anonymousDevice = rightsFor(acl, 'device', undefined);
    expect(anonymousDevice.canPublish('telemetry/v1/{username}/readings')).toBe(false);
    expect(anonymousDevice.canSubscribe('cmd/v1/{username}/#')).toBe(false);
  });
});

describe('deny rules (acl.deny)', () => {
  const fenced = {
    ...acl,
    backend: { publish: ['#'], subscribe: ['#'] },
    deny: { publish: ['fenced/#'], subscribe: ['test/nosubscribe', 'fenced/#'] },
  };

  it('win over a role allowed everything', () => {
    const backend = rightsFor(fenced, 'backend', 'backend');
    for (const topic of ['fenced', 'fenced/x', 'fenced/x/y']) expect(backend.canPublish(topic), topic).toBe(false);
    for (const topic of ['test/nosubscribe', 'fencedx', 'x/fenced']) expect(backend.canPublish(topic), topic).toBe(true);
    for (const topic of ['test/nosubscribe', 'fenced', 'fenced/x']) expect(backend.canReceive(topic), topic).toBe(false);
    for (const topic of ['test/nosubscribe/x', 'test/other', 'test']) expect(backend.canReceive(topic), topic).toBe(true);
  });

  it('refuse a filter that could only match fenced topics, and grant a wider one (delivery then withholds them)', () => {
    const backend = rightsFor(fenced, 'backend', 'backend');
    for (const filter of ['test/nosubscribe', 'fenced/#', 'fenced/+', 'fenced/+/#', 'fenced'])
      expect(backend.canSubscribe(filter), filter).toBe(false);
    for (const filter of ['test/#', 'test/+', '+/nosubscribe', '#', 'test/nosubscribe/#', '+/+'])
      expect(backend.canSubscribe(filter), filter).toBe(true);
  });

  it('still need the role to allow a topic: a deny rule grants nothing', () => {
    const viewer = rightsFor(fenced, 'viewer', 'eve');
    expect(viewer.canSubscribe('test/#')).toBe(false);
    expect(viewer.canPublish('test/other')).toBe(false);
  });

  it('leave admin alone', () => {
    const admin = rightsFor(fenced, 'admin', 'root');
    expect(admin.canPublish('fenced/x')).toBe(true);
    expect(admin.canSubscribe('test/nosubscribe')).toBe(true);
    expect(admin.canReceive('fenced/x')).toBe(true);
    expect(admin.canPublish('$SYS/x')).toBe(false);
  });

  it('apply to every non-admin role, devices and viewers too', () => {
    const deny = { publish: ['telemetry/v1/+/sensors'], subscribe: ['alerts/v1/events'] };
    expect(rightsFor({ ...acl, deny }, 'device', 'dev-a').canPublish('telemetry/v1/dev-a/sensors')).toBe(false);
    expect(rightsFor({ ...acl, deny }, 'device', 'dev-a').canPublish('telemetry/v1/dev-a/readings')).toBe(true);
    const viewer = rightsFor({ ...acl, deny }, 'viewer', 'eve');
    expect(viewer.canSubscribe('alerts/v1/events')).toBe(false);
    expect(viewer.canSubscribe('alerts/v1/#')).toBe(true);
    expect(viewer.canReceive('alerts/v1/events')).toBe(false);
    expect(viewer.canReceive('alerts/v1/dev-a/high')).toBe(true);
  });
});

describe('aclProblems', () => {
  it('names every invalid pattern with its key, deny rules included', () => {
    const bad = {
      ...acl,
      viewer: { publish: ['a/#/b'], subscribe: ['x/{username}y'] },
      deny: { publish: ['ok/#', 'a+'], subscribe: ['cmd/v1/{username}/+'] },
    };
    expect(aclProblems(bad)).toEqual([
      'acl.viewer.publish.0 = "a/#/b": the topic filter uses \'#\' other than as the whole last level',
      'acl.viewer.subscribe.0 = "x/{username}y": {username} must be a whole topic level',
      'acl.deny.publish.1 = "a+": the topic filter uses \'+\' other than as a whole level',
      'acl.deny.subscribe.0 = "cmd/v1/{username}/+": {username} is not allowed in a deny rule, which applies to every client alike',
    ]);
    expect(aclProblems(acl)).toEqual([]);
  });
});

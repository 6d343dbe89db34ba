import { describe, expect, it } from 'vitest';
import { filterCovered, filterProblem, isPublishableTopic, topicMatches } from './topic-filter.js';

describe('topicMatches', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true], // [MQTT-4.7.1-2]: '#' also matches the parent level
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', '/b', true], // an empty level is a level
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x/heartbeat', true],
    ['telemetry/v1/dev-a/#', 'telemetry/v1/dev-b/readings', false],
  ])('%s vs %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('filterCovered', () => {
  it.each([
    ['telemetry/v1/dev-a/readings', 'telemetry/v1/dev-a/#', true],
    ['telemetry/v1/dev-a/#', 'telemetry/v1/dev-a/#', true],
    ['telemetry/v1/dev-a', 'telemetry/v1/dev-a/#', true],
    ['telemetry/v1/+/readings', 'telemetry/v1/dev-a/#', false], // a wildcard cannot widen the read
    ['telemetry/v1/#', 'telemetry/v1/dev-a/#', false],
    ['#', 'telemetry/#', false],
    ['telemetry/v1/+/status', 'telemetry/v1/+/status', true],
    ['telemetry/v1/+/#', 'telemetry/v1/+/status', false],
    ['alerts/v1/x/y', 'alerts/v1/#', true],
    ['$SYS/#', '#', false], // '#' matches no '$' topic
    ['$SYS/broker/heartbeat', '$SYS/#', true],
    ['#', '$SYS/#', false],
    ['a/b/c', 'a/b', false],
  ])('%s inside %s: %s', (filter, pattern, expected) => {
    expect(filterCovered(filter, pattern)).toBe(expected);
  });
});

describe('filterProblem and isPublishableTopic', () => {
  it('accepts valid filters and names what is wrong with the others', () => {
    for (const ok of ['#', '+', 'a/+/b', 'a/#', '/', '$SYS/#']) expect(filterProblem(ok)).toBeUndefined();
    expect(filterProblem('')).toMatch(/empty/);
    expect(filterProblem('a/#/b')).toMatch(/'#'/);
    expect(filterProblem('a/b#')).toMatch(/'#'/);
    expect(filterProblem('a/b+')).toMatch(/'\+'/);
    expect(filterProblem('a\u0000b')).toMatch(/U\+0000/);
  });

  it('refuses wildcards in topic names', () => {
    expect(isPublishableTopic('a/b')).toBe(true);
    for (const bad of ['', 'a/#', 'a/+/b', 'a\u0000']) expect(isPublishableTopic(bad)).toBe(false);
  });
});

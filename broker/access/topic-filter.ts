// MQTT topic names and filters (MQTT 3.1.1 section 4.7): validity, matching a topic against a
// filter, and whether one filter is covered by another. The ACL is built on these three.

/** Why a filter is not valid, or `undefined` when it is. */
export function filterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'is empty'; // [MQTT-4.7.3-1]
  if (filter.includes('\u0000')) return 'contains U+0000'; // [MQTT-4.7.3-2]
  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    // [MQTT-4.7.1-2]: '#' alone in its level, and the last level.
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) return "uses '#' other than as the whole last level";
    // [MQTT-4.7.1-3]: '+' occupies an entire level.
    if (level.includes('+') && level !== '+') return "uses '+' other than as a whole level";
  }
  return undefined;
}

/** A topic name that may be published to: non-empty, no wildcards [MQTT-3.3.2-2], no U+0000. */
export function isPublishableTopic(topic: string): boolean {
  return topic.length > 0 && !topic.includes('#') && !topic.includes('+') && !topic.includes('\u0000');
}

/** Does `topic` (a topic name, no wildcards) match `filter`? */
export function topicMatches(filter: string, topic: string): boolean {
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match topics starting with '$'.
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i += 1) {
    const level = f[i];
    if (level === '#') return true; // also matches the parent level: 'a/#' matches 'a' [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Is every topic that `filter` can match also matched by `pattern`? A subscription is allowed
 * only when this holds for one of the role's patterns, so a wildcard can never widen what a
 * client reads (`telemetry/v1/+/readings` is refused to a device allowed `telemetry/v1/dev-a/#`).
 */
export function filterCovered(filter: string, pattern: string): boolean {
  // [MQTT-4.7.2-1]: a wildcard-led pattern matches no '$' topic, so it covers no '$' filter.
  if (filter.startsWith('$') && (pattern.startsWith('+') || pattern.startsWith('#'))) return false;
  const f = filter.split('/');
  const p = pattern.split('/');
  for (let i = 0; i < p.length; i += 1) {
    const level = p[i];
    if (level === '#') return true;
    const mine = f[i];
    if (mine === undefined) return false; // the filter stops earlier: only 'x/#' covers 'x', handled above
    if (mine === '#') return false; // the filter reaches deeper than this pattern can
    if (level === '+') continue; // any one level, including '+'
    if (mine !== level) return false; // a literal covers only itself, never '+'
  }
  return f.length === p.length;
}

import type { BrokerConfig, Role } from '../config.js';
import { filterCovered, filterProblem, topicMatches } from './topic-filter.js';

/** What one client may do with topics, compiled once at CONNECT from its role and user name. */
export interface TopicRights {
  readonly role: Role;
  /** May it publish to this topic name? */
  canPublish(topic: string): boolean;
  /** May it subscribe to this filter? Only if every topic the filter matches is readable. */
  canSubscribe(filter: string): boolean;
  /** May a message on this topic be delivered to it? */
  canReceive(topic: string): boolean;
}

export type AclConfig = BrokerConfig['acl'];

const USERNAME = '{username}';

/** The role's patterns with `{username}` filled in; patterns naming a user are skipped when there is none. */
function expand(patterns: readonly string[], username: string | undefined): string[] {
  return patterns.flatMap((pattern) => {
    if (!pattern.includes(USERNAME)) return [pattern];
    // User names never hold '/', '+' or '#' (see credentials.ts), so substitution cannot widen a pattern.
    return username === undefined ? [] : [pattern.replaceAll(USERNAME, username)];
  });
}

const NO_DENY: AclConfig['deny'] = { publish: [], subscribe: [] };

// Checked for every PUBLISH a client sends and every message it receives, while a client uses
// few topics (a device its own three or four; the backend one per device): each answer is kept.
// A client's rights never change while it is connected (a credentials change disconnects it).
const MAX_REMEMBERED_TOPICS = 4096;

function remembered(decide: (topic: string) => boolean): (topic: string) => boolean {
  const answers = new Map<string, boolean>();
  return (topic) => {
    let answer = answers.get(topic);
    if (answer === undefined) {
      answer = decide(topic);
      if (answers.size >= MAX_REMEMBERED_TOPICS) answers.clear(); // a client roaming over topics: bounded memory
      answers.set(topic, answer);
    }
    return answer;
  };
}

/**
 * A client's rights: its role's patterns, minus the deny rules (`acl.deny`), which win over them
 * and bind every role but admin (the operator's way in to what is fenced off).
 *
 * A denied subscribe filter fences off every topic it matches, for SUBSCRIBE and for delivery:
 * - a SUBSCRIBE whose filter lies wholly inside a deny filter (it could only ever carry fenced
 *   topics: `test/nosubscribe` itself, or `test/+` when `test/#` is denied) gets SUBACK 0x80;
 * - a wider filter that merely overlaps one (`test/#`, `#` when `test/nosubscribe` is denied) is
 *   granted, as Mosquitto does, and the fenced topics are withheld at each delivery (canReceive),
 *   retained messages included. Refusing it would refuse `#` to every role the moment any topic
 *   is fenced.
 */
export function rightsFor(acl: AclConfig, role: Role, username: string | undefined): TopicRights {
  const publish = expand(acl[role].publish, username);
  const subscribe = expand(acl[role].subscribe, username);
  const deny = role === 'admin' ? NO_DENY : acl.deny;
  const fenced = (filters: readonly string[], topic: string) => filters.some((filter) => topicMatches(filter, topic));
  return {
    role,
    // Nobody publishes to $SYS: those topics are the broker's own (aedes issue #597).
    canPublish: remembered(
      (topic) => !topic.startsWith('$SYS') && !fenced(deny.publish, topic) && publish.some((pattern) => topicMatches(pattern, topic)),
    ),
    canSubscribe: (filter) =>
      !deny.subscribe.some((denied) => filterCovered(filter, denied)) && subscribe.some((pattern) => filterCovered(filter, pattern)),
    canReceive: remembered((topic) => !fenced(deny.subscribe, topic) && subscribe.some((pattern) => topicMatches(pattern, topic))),
  };
}

/** Why one ACL pattern is unusable, or `undefined` when it is fine. */
function patternProblem(pattern: string, isDenyRule: boolean): string | undefined {
  // A deny rule binds every client alike; one naming {username} would bind nobody without a user name.
  if (isDenyRule && pattern.includes(USERNAME)) return `${USERNAME} is not allowed in a deny rule, which applies to every client alike`;
  if (!pattern.split('/').every((level) => !level.includes(USERNAME) || level === USERNAME))
    return `${USERNAME} must be a whole topic level`;
  const problem = filterProblem(pattern.replaceAll(USERNAME, 'user'));
  return problem === undefined ? undefined : `the topic filter ${problem}`;
}

/** Every pattern of the ACL (roles and deny rules) that is not a valid topic filter, as `key: problem` lines. */
export function aclProblems(acl: AclConfig): string[] {
  const problems: string[] = [];
  for (const [owner, rights] of Object.entries(acl)) {
    for (const verb of ['publish', 'subscribe'] as const) {
      rights[verb].forEach((pattern, index) => {
        const problem = patternProblem(pattern, owner === 'deny');
        if (problem) problems.push(`acl.${owner}.${verb}.${index} = ${JSON.stringify(pattern)}: ${problem}`);
      });
    }
  }
  return problems;
}

import type { BrokerConfig, Role } from './config.js';
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

export function rightsFor(acl: AclConfig, role: Role, username: string | undefined): TopicRights {
  const publish = expand(acl[role].publish, username);
  const subscribe = expand(acl[role].subscribe, username);
  return {
    role,
    // Nobody publishes to $SYS: those topics are the broker's own (aedes issue #597).
    canPublish: (topic) => !topic.startsWith('$SYS') && publish.some((pattern) => topicMatches(pattern, topic)),
    canSubscribe: (filter) => subscribe.some((pattern) => filterCovered(filter, pattern)),
    canReceive: (topic) => subscribe.some((pattern) => topicMatches(pattern, topic)),
  };
}

/** Every pattern of the ACL that is not a valid topic filter, as `key: problem` lines. */
export function aclProblems(acl: AclConfig): string[] {
  const problems: string[] = [];
  for (const [role, rights] of Object.entries(acl)) {
    for (const verb of ['publish', 'subscribe'] as const) {
      rights[verb].forEach((pattern, index) => {
        const levels = pattern.split('/');
        if (!levels.every((level) => !level.includes(USERNAME) || level === USERNAME)) {
          problems.push(`acl.${role}.${verb}.${index} = ${JSON.stringify(pattern)}: ${USERNAME} must be a whole topic level`);
          return;
        }
        const problem = filterProblem(pattern.replaceAll(USERNAME, 'user'));
        if (problem) problems.push(`acl.${role}.${verb}.${index} = ${JSON.stringify(pattern)}: the topic filter ${problem}`);
      });
    }
  }
  return problems;
}

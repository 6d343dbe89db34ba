// Rule matchers name devices and sensors exactly or with `*`. Nothing else is special:
// ids are limited to `A-Z a-z 0-9 _ -`, so `?`, `[` or `{` would only invite surprises.

/** A match pattern: 1 to 64 characters of `A-Z a-z 0-9 _ -` and `*`. */
export const GLOB_PATTERN = '^[A-Za-z0-9_*-]{1,64}$';

export type GlobMatcher = (value: string) => boolean;

/** Rules are matched on every reading; patterns come from the rule set, so they are few and worth keeping. */
const compiled = new Map<string, GlobMatcher>();
const MAX_CACHED = 10_000;

/** `*` matches any run of characters, including none; every other character matches itself. */
export function compileGlob(pattern: string): GlobMatcher {
  const cached = compiled.get(pattern);
  if (cached !== undefined) return cached;
  const matcher = build(pattern);
  // A bound in case patterns ever come from somewhere less tame than the rule set.
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(pattern, matcher);
  return matcher;
}

function build(pattern: string): GlobMatcher {
  if (!pattern.includes('*')) return (value) => value === pattern;
  // Escape everything but `*` so a pattern can never smuggle in regular-expression syntax.
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`);
  return (value) => regex.test(value);
}

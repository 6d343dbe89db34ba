import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/** One thing wrong with a value: where (a JSON pointer such as `/readings/0/seq`) and why. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

/** The most issues reported for one value: enough to fix it, bounded for junk input. */
const MAX_ISSUES = 20;

/** Compiles a schema once into a checker that reports every issue (up to a bound) with its path. */
export function compileValidator<S extends TSchema>(schema: S): (value: unknown) => Validated<Static<S>> {
  const checker = TypeCompiler.Compile(schema);
  return (value) => {
    if (checker.Check(value)) return { ok: true, value };
    const issues: ValidationIssue[] = [];
    for (const error of checker.Errors(value)) {
      issues.push({ path: error.path || '/', message: error.message });
      if (issues.length >= MAX_ISSUES) break;
    }
    return { ok: false, issues };
  };
}

/** `path message` per issue, one per line: the form every part logs and answers. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path} ${issue.message}`).join('\n');
}

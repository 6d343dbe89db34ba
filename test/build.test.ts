// `npm run build` (scripts/build.mjs) on real files in a temporary copy of the checkout: a second
// build of an unchanged tree writes nothing, a deleted source's output goes, and the four bins of
// package.json are executable, as `npx furnace-broker` needs.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const checkout = resolve(import.meta.dirname, '..');
const notCopied = new Set(['node_modules', 'dist', 'data', '.git', 'test-artifacts']);
// A full build takes 10 s on an idle 2-core machine, several times that when it is busy.
const BUILD_TIMEOUT_MS = 300_000;

function copyCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'furnace-build-'));
  for (const entry of readdirSync(checkout)) {
    if (!notCopied.has(entry)) cpSync(join(checkout, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(realpathSync(join(checkout, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

function build(dir: string): void {
  execFileSync(process.execPath, [join(dir, 'scripts', 'build.mjs')], { cwd: dir, stdio: 'pipe' });
}

/** Every file under dist/, with its modification time. */
function distFiles(dir: string): Map<string, number> {
  const dist = join(dir, 'dist');
  const files = readdirSync(dist, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return new Map(
    files.map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return [relative(dist, path), statSync(path).mtimeMs];
    }),
  );
}

describe('npm run build', () => {
  let dir: string;
  // Sources that the test deletes after the first build: one compiled by each tsconfig, and one
  // alone in its folder (a folder moved away must not stay behind in dist/, empty).
  const probes = ['contract/build-probe.ts', 'backend/dashboard/build-probe.ts', 'contract/probe-folder/build-probe.ts'];

  beforeAll(() => {
    dir = copyCheckout();
    mkdirSync(join(dir, 'contract/probe-folder'));
    for (const probe of probes) writeFileSync(join(dir, probe), 'export const probe = 1;\n');
    build(dir);
  }, BUILD_TIMEOUT_MS);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(
    'writes nothing when no source changed',
    () => {
      const before = distFiles(dir);
      expect(before.get('stack/start.js')).toBeDefined();
      build(dir);
      expect(distFiles(dir)).toEqual(before);
    },
    BUILD_TIMEOUT_MS,
  );

  it(
    'removes the output of a source deleted since the last build, and the folder it leaves empty',
    () => {
      expect(existsSync(join(dir, 'dist/contract/build-probe.js'))).toBe(true);
      expect(existsSync(join(dir, 'dist/dashboard/build-probe.js'))).toBe(true);
      expect(existsSync(join(dir, 'dist/contract/probe-folder/build-probe.js'))).toBe(true);
      for (const probe of probes) rmSync(join(dir, probe));
      rmSync(join(dir, 'contract/probe-folder'), { recursive: true });
      build(dir);
      const after = [...distFiles(dir).keys()];
      expect(after.filter((file) => file.includes('build-probe'))).toEqual([]);
      expect(existsSync(join(dir, 'dist/contract/probe-folder'))).toBe(false);
      expect(after).toContain('stack/start.js');
      expect(after).toContain('dashboard/main.js');
    },
    BUILD_TIMEOUT_MS,
  );

  it(
    'makes the bins of package.json executable, so that npx can run them',
    () => {
      const bins = Object.values((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin);
      expect(bins).toHaveLength(4);
      for (const bin of bins) {
        expect(statSync(join(dir, bin)).mode & 0o111, bin).toBe(0o111);
        // Run as npx runs it: the file itself, through its #! line.
        expect(execFileSync(join(dir, bin), ['--help'], { encoding: 'utf8' }), bin).toMatch(/\S/);
      }
    },
    BUILD_TIMEOUT_MS,
  );
});

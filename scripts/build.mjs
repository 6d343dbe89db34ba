#!/usr/bin/env node
// `npm run build`: TypeScript to dist/, incrementally. Plain JavaScript because it runs before
// anything is compiled.
//
// `tsc -b` compares the sources with the .tsbuildinfo files it keeps in dist/.tsbuildinfo/ and
// compiles nothing when no source changed; when one did, it re-emits only what that change
// affects. Deleting dist/ (or a fresh clone) makes the next build a full one.
//
// tsc never deletes an output whose source is gone, so a deleted or renamed module would stay
// importable from dist/ (and pass the tests that run dist/). We remove those outputs here: a walk
// over dist/ costs milliseconds, whereas cleaning everything whenever the file list changes would
// make every added or deleted file cost a full 10-30 s build.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve, sep } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const dist = join(root, 'dist');
const projects = ['tsconfig.build.json', 'backend/dashboard/tsconfig.build.json'];
// Where each part of dist/ comes from: dist/dashboard/ from backend/dashboard/ (its own outDir),
// everything else from the checkout root (rootDir ".").
const sourceRoots = [
  { out: join(dist, 'dashboard'), src: join(root, 'backend', 'dashboard') },
  { out: dist, src: root },
];
const emitted = /\.(js|js\.map|d\.ts|d\.ts\.map)$/;

function* filesUnder(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/** The TypeScript source an output of tsc was emitted from. */
function sourceOf(output) {
  const { out, src } = sourceRoots.find(({ out }) => output.startsWith(out + sep));
  return join(src, relative(out, output)).replace(emitted, '.ts');
}

/** Removes the folders under `dir` left empty (a source folder moved or deleted); keeps `dir`. */
function pruneEmptyFolders(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(dir, entry.name);
    pruneEmptyFolders(path);
    if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
  }
}

/** Removes outputs whose source was deleted or renamed since they were emitted; returns how many. */
function pruneOrphans() {
  if (!existsSync(dist)) return 0;
  let removed = 0;
  for (const file of filesUnder(dist)) {
    if (!emitted.test(file) || existsSync(sourceOf(file))) continue;
    rmSync(file);
    removed += 1;
  }
  if (removed > 0) pruneEmptyFolders(dist);
  return removed;
}

const bins = Object.values(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin ?? {}).map((bin) => join(root, bin));

pruneOrphans();
// tsc -b trusts its .tsbuildinfo and does not look for each output: if one was deleted by hand,
// rebuild everything rather than leave a bin missing.
const force = bins.some((bin) => !existsSync(bin)) ? ['--force'] : [];
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-b', ...force, ...projects.map((p) => join(root, p))], { stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// npm sets the execute bit on bins when it installs a package, not when tsc writes them: without
// this, `npx furnace-broker` after a fresh build answers "Permission denied".
for (const bin of bins) chmodSync(bin, 0o755);

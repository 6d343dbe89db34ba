// `npm run bench [-- name ...]`: runs every benchmark in bench/ (or the ones named), one
// after the other so they do not disturb each other. Each module exports `run()`, which
// prints its figures beside a reference measured in the same run, as a ratio.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Benchmark {
  run: () => Promise<void>;
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const available = readdirSync(here)
    .filter((file) => file.endsWith('.js') && file !== 'run.js')
    .map((file) => basename(file, '.js'))
    .sort();
  // Flags (e.g. --json) are for the benchmarks themselves, which read process.argv.
  const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const unknown = wanted.filter((name) => !available.includes(name));
  if (unknown.length > 0) throw new Error(`no benchmark ${unknown.join(', ')}; there are: ${available.join(', ')}`);
  for (const name of wanted.length > 0 ? wanted : available) {
    const module = (await import(pathToFileURL(join(here, `${name}.js`)).href)) as Partial<Benchmark>;
    if (typeof module.run !== 'function') continue; // a helper module, not a benchmark
    process.stdout.write(`\n== ${name}\n`);
    await module.run();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(1);
  },
);

// Debian's Chromium driven by playwright-core (no browser download): for the dashboard's tests.
// Missing on a laptop, those tests skip saying what to install; missing on CI, they fail
// (describeWithProgram('chromium', 'chromium', ...)).
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, type CDPSession, type Page, chromium } from 'playwright-core';

/** Where the browser tests leave their screenshots (git-ignored). */
export const ARTIFACTS_DIR = resolve(import.meta.dirname, '..', '..', 'test-artifacts');

export function launchChromium(executablePath: string): Promise<Browser> {
  // Chromium's sandbox refuses to run as root: only then is it turned off.
  const root = process.getuid?.() === 0;
  return chromium.launch({ executablePath, headless: true, chromiumSandbox: !root });
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** The page's used JavaScript heap after a full garbage collection, through the DevTools protocol. */
export async function heapAfterGc(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  return usedSize;
}

// The demo's alert story: the rules `npm start` gives the backend (demo-rules.yaml), and the
// emulated furnace's settings that trip the overheat rule once per cycle, so a newcomer sees
// an alert fire and resolve within the first two minutes, then again every few minutes.
import { constants, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// This module runs from dist/stack/ (npm start) or from stack/ (tests); the YAML stays in stack/.
const checkout = basename(resolve(here, '..')) === 'dist' ? resolve(here, '..', '..') : resolve(here, '..');

/** The rules shipped with the demo; copied once into the data folder. */
export const DEMO_RULES_SOURCE = join(checkout, 'stack', 'demo-rules.yaml');

/** The furnace holds this (°C); demo-rules.yaml's overheat rule fires above 650 and clears under 630. */
export const DEMO_SETPOINT_C = 600;

/**
 * The heater sticks on (hardware spec §19, `overheat`) for 17 simulated minutes from minute 35
 * of each 3-hour cycle: at the default --speed 60 that is from second 35 of every 3 minutes of
 * wall time. The first time the furnace is still heating up, so it passes 650 °C at about 44 s
 * and falls back under 630 °C at about 71 s; later cycles start from 600 °C, peak near 790 °C and
 * are back under 630 °C about 36 s after the fault began. The scenario is a finite list (spec
 * §19.1 has no repeat), so the cycles stop after DEMO_CYCLES: an hour at speed 60; then the
 * furnace holds 600 °C.
 */
export const DEMO_CYCLE_MINUTES = 180;
export const DEMO_FAULT_START_MINUTES = 35;
export const DEMO_FAULT_MINUTES = 17;
export const DEMO_CYCLES = 20;

/** The emulator's --scenario text for the demo. */
export function demoScenario(cycles = DEMO_CYCLES): string {
  return Array.from(
    { length: cycles },
    (_, k) => `overheat@${DEMO_FAULT_START_MINUTES + k * DEMO_CYCLE_MINUTES}m+${DEMO_FAULT_MINUTES}m`,
  ).join(',');
}

/** The emulator's options for the demo furnace, the same for the CLI and the in-process pair. */
export function demoEmulatorArgs(): string[] {
  return ['--setpoint', String(DEMO_SETPOINT_C), '--scenario', demoScenario()];
}

/**
 * Puts the demo rules at DATA_DIR/backend/rules.yaml unless a file is there already, so an
 * operator's edits (or a PUT /api/v1/rules, which rewrites that file) survive restarts.
 */
export function ensureDemoRules(dataDir: string): { path: string; created: boolean } {
  const path = join(dataDir, 'backend', 'rules.yaml');
  if (existsSync(path)) return { path, created: false };
  mkdirSync(dirname(path), { recursive: true });
  // COPYFILE_EXCL: never overwrite a file that appeared meanwhile.
  copyFileSync(DEMO_RULES_SOURCE, path, constants.COPYFILE_EXCL);
  return { path, created: true };
}

/** When the heater sticks, in wall time at `speed` simulated seconds per real second, for the banner. */
export function describeDemoCycle(speed: number): string {
  const wall = (minutes: number) => {
    const seconds = (minutes * 60) / speed;
    return seconds < 120 ? `${Math.round(seconds)} s` : `${Math.round(seconds / 6) / 10} min`;
  };
  return `the furnace's heater sticks on ${wall(DEMO_FAULT_START_MINUTES)} after start and every ${wall(DEMO_CYCLE_MINUTES)} after, ${DEMO_CYCLES} times`;
}

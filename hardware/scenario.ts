// Fault scenarios on a timeline of simulated time (spec §19).
import { HardwareError } from './errors.js';

export const FAULT_KINDS = [
  'overheat',
  'heater-failure',
  'tc-open',
  'tc-short-gnd',
  'tc-short-vcc',
  'stuck',
  'spikes',
  'noise',
  'partial',
  'stall',
  'baud-mismatch',
  'crc-errors',
  'busy',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export type Protocol = 'line' | 'modbus';

/** Spec §19.2: which faults each device can show. */
export const PROTOCOL_FAULTS: Record<Protocol, readonly FaultKind[]> = {
  line: FAULT_KINDS.filter((fault) => fault !== 'busy'),
  modbus: FAULT_KINDS.filter((fault) => fault !== 'baud-mismatch'),
};

/** One fault, active from `from` (inclusive) to `until` (exclusive), in simulated seconds. */
export interface ScenarioEvent {
  fault: FaultKind;
  from: number;
  until: number;
}

export class Timeline {
  readonly events: readonly ScenarioEvent[];

  constructor(events: readonly ScenarioEvent[] = []) {
    this.events = events;
  }

  /** Whether `fault` is active at simulated second `time`. */
  isActive(fault: FaultKind, time: number): boolean {
    return this.events.some((event) => event.fault === fault && time >= event.from && time < event.until);
  }
}

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

const badScenario = (text: string, why: string) =>
  new HardwareError(
    'HARDWARE_BAD_SCENARIO',
    `scenario ${JSON.stringify(text)}: ${why}; expected NAME[@START][+DURATION],... with NAME one of ${FAULT_KINDS.join(', ')} and times like 90, 90s, 10m, 2h`,
  );

function duration(text: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(raw);
  if (!match?.[1]) throw badScenario(text, `${JSON.stringify(raw)} is not a time`);
  return Number(match[1]) * (UNIT_SECONDS[match[2] ?? ''] ?? 1);
}

/** Parses spec §19.1: `tc-open@10m+2m,spikes`; a bare name is active from the start for ever. */
export function parseScenario(text: string): ScenarioEvent[] {
  if (text.trim() === '') return [];
  return text.split(',').map((item) => {
    const match = /^([a-z-]+)(?:@([^+]+))?(?:\+(.+))?$/.exec(item.trim());
    const name = match?.[1];
    if (!match || !name) throw badScenario(text, `cannot read ${JSON.stringify(item)}`);
    if (!(FAULT_KINDS as readonly string[]).includes(name)) throw badScenario(text, `unknown fault ${JSON.stringify(name)}`);
    const from = match[2] === undefined ? 0 : duration(text, match[2]);
    const length = match[3] === undefined ? Infinity : duration(text, match[3]);
    if (length <= 0) throw badScenario(text, `the duration of ${JSON.stringify(item)} must be above 0`);
    return { fault: name as FaultKind, from, until: from + length };
  });
}

/** Refuses faults the protocol cannot show (spec §19.2), and crc-errors on a line device without checksums. */
export function assertScenarioFits(events: readonly ScenarioEvent[], protocol: Protocol, lineChecksum = false): void {
  for (const { fault } of events) {
    if (!PROTOCOL_FAULTS[protocol].includes(fault)) {
      throw new HardwareError('HARDWARE_BAD_SCENARIO', `scenario fault ${fault} does not apply to the ${protocol} protocol`);
    }
    if (protocol === 'line' && fault === 'crc-errors' && !lineChecksum) {
      throw new HardwareError('HARDWARE_BAD_SCENARIO', 'scenario fault crc-errors needs line checksums (--checksum)');
    }
  }
}

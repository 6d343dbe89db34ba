#!/usr/bin/env node
// furnace-emulator: emulated furnaces on pseudo-terminals, TCP ports or standard I/O (spec §21).
import { type Logger, pino } from 'pino';
import { type EmulatorConfig, HELP, parseCliOptions } from './cli-options.js';
import { HardwareError, type HardwareErrorCode } from './errors.js';
import { type Fleet, startFleet } from './fleet.js';
import { LineEmulator } from './line-emulator.js';

async function main(): Promise<void> {
  const config = parseCliOptions(process.argv.slice(2));
  if (!config) {
    process.stdout.write(HELP);
    return;
  }
  // On stdio the bytes own standard output: the log goes to standard error.
  const log = pino({ base: { part: 'emulator' } }, pino.destination(config.transport === 'stdio' ? 2 : 1));
  // Set once every furnace runs; a signal during start-up waits for it, so no socat is left behind.
  const running: { fleet?: Fleet; stopping?: { reason: string; code: number } } = {};
  const stop = (reason: string, code: number) => {
    // Once, whichever signal comes first and however often.
    if (running.stopping) return;
    running.stopping = { reason, code };
    const fleet = running.fleet;
    if (!fleet) return;
    for (const { index, emulator } of fleet.members) {
      const stats = emulator instanceof LineEmulator ? { lines: emulator.lines } : { ...emulator.stats };
      log.info({ index, ...stats }, 'furnace stopping');
    }
    log.info({ reason }, 'emulator stopping');
    fleet.stop().then(
      () => process.exit(code),
      (error: unknown) => {
        log.error({ err: error }, 'emulator did not close cleanly');
        process.exit(1);
      },
    );
  };
  // As contract/stop-signals.ts (which the emulator cannot import): started by `npm start`
  // (FURNACE_STACK_CHILD=1), Ctrl-C is left to the stack, which stops the parts in order.
  const stack = process.env.FURNACE_STACK_CHILD === '1' ? process.ppid : undefined;
  process.on('SIGINT', () => {
    if (stack === undefined || process.ppid !== stack) stop('SIGINT', 0);
  });
  process.on('SIGTERM', () => stop('SIGTERM', 0));

  const fleet = await startFleet(config, {
    onLost: (index, reason) => {
      log.error({ index, reason }, 'a furnace lost its link; stopping');
      stop('link lost', 1);
    },
  });
  running.fleet = fleet;
  if (running.stopping) {
    const { reason, code } = running.stopping;
    running.stopping = undefined;
    stop(reason, code);
    return;
  }
  logReady(log, config, fleet);
}

/** The one line `npm start` waits for, and one per furnace when there are several. */
function logReady(log: Logger, config: EmulatorConfig, fleet: Fleet): void {
  const devicePaths = fleet.members.map((member) => member.transport.devicePath);
  if (config.count > 1) {
    for (const member of fleet.members)
      log.info({ index: member.index, seed: member.seed, devicePath: member.transport.devicePath }, 'furnace ready');
  }
  const { protocol, transport, intervalMs, speed, seed, count, scenarioText } = config;
  const modbus = protocol === 'modbus' ? { slaveId: config.slaveId } : { checksum: config.checksum };
  log.info(
    {
      devicePath: devicePaths[0],
      ...(count > 1 ? { devicePaths } : {}),
      protocol,
      transport,
      baudRate: config.baudRate,
      ...modbus,
      intervalMs,
      speed,
      seed,
      count,
      ...(scenarioText ? { scenario: scenarioText } : {}),
      ...(config.program ? { program: config.program } : { setpoint: config.setpoint }),
    },
    'emulator ready',
  );
}

main().catch((error: unknown) => {
  const code: HardwareErrorCode = error instanceof HardwareError ? error.code : 'HARDWARE_FAILED';
  process.stderr.write(`furnace-emulator: ${code}: ${(error as Error).message}\n`);
  process.exit(error instanceof HardwareError && error.code === 'HARDWARE_BAD_OPTION' ? 2 : 1);
});

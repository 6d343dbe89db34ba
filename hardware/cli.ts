#!/usr/bin/env node
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { LineEmulator } from './emulator.js';
import { HardwareError } from './errors.js';
import { openPtyTransport } from './transports/pty-transport.js';
import type { EmulatorTransport } from './transports/transport.js';

const HELP = `furnace-emulator: an emulated furnace printing one temperature line per interval

  --transport pty|stdio   pty: a socat pseudo-terminal pair, the agent opens --link (default)
                          stdio: lines on standard output, logs on standard error
  --link PATH             device path made for the agent (default ./data/serial/furnace-1)
  --interval-ms N         milliseconds between readings (default 1000)
  --speed N               simulated seconds per real second (default 1)
  --seed N                seed of the furnace model and its noise (default 1)
  --help                  this text
`;

function positiveNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new HardwareError('HARDWARE_BAD_OPTION', `--${name} ${JSON.stringify(raw)}: expected a number above 0`);
  }
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      transport: { type: 'string', default: 'pty' },
      link: { type: 'string', default: './data/serial/furnace-1' },
      'interval-ms': { type: 'string', default: '1000' },
      speed: { type: 'string', default: '1' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const stdio = values.transport === 'stdio';
  if (!stdio && values.transport !== 'pty') {
    throw new HardwareError('HARDWARE_BAD_OPTION', `--transport ${JSON.stringify(values.transport)}: expected pty or stdio`);
  }
  const log = pino({ base: { part: 'emulator' } }, pino.destination(stdio ? 2 : 1));
  const intervalMs = positiveNumber('interval-ms', values['interval-ms']);
  const speed = positiveNumber('speed', values.speed);
  const seed = Math.trunc(positiveNumber('seed', values.seed));

  let transport: EmulatorTransport;
  if (stdio) {
    transport = { devicePath: '-', write: (data) => process.stdout.write(data), close: () => Promise.resolve() };
  } else {
    const link = resolve(values.link);
    mkdirSync(dirname(link), { recursive: true });
    transport = await openPtyTransport({
      link,
      onLost: (reason) => {
        log.error({ reason, devicePath: link }, 'the pseudo-terminal pair is gone; stopping');
        process.exit(1);
      },
    });
  }
  const emulator = new LineEmulator({ seed, intervalMs, speed, write: (line) => transport.write(line) });
  emulator.start();
  log.info({ devicePath: transport.devicePath, intervalMs, speed, seed }, 'emulator ready');

  let stopping = false;
  const stop = (signal: string) => {
    // Ctrl-C under npm start reaches us twice (the terminal's SIGINT, then the launcher's SIGTERM).
    if (stopping) return;
    stopping = true;
    log.info({ signal, lines: emulator.lines }, 'emulator stopping');
    emulator.stop();
    transport.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'emulator did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  const code = error instanceof HardwareError ? error.code : 'HARDWARE_FAILED';
  process.stderr.write(`furnace-emulator: ${code}: ${(error as Error).message}\n`);
  process.exit(error instanceof HardwareError && error.code === 'HARDWARE_BAD_OPTION' ? 2 : 1);
});

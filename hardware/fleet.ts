// One or more emulated furnaces in this process, each on its own transport (spec §21 --count).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { EmulatorConfig } from './cli-options.js';
import { LineEmulator } from './line-emulator.js';
import { ModbusEmulator } from './modbus-emulator.js';
import { openPtyTransport } from './transports/pty-transport.js';
import { openStdioTransport } from './transports/stdio-transport.js';
import { openTcpTransport } from './transports/tcp-transport.js';
import type { EmulatorTransport } from './transports/transport.js';

export interface FleetMember {
  index: number;
  seed: number;
  transport: EmulatorTransport;
  emulator: LineEmulator | ModbusEmulator;
}

export interface Fleet {
  readonly members: readonly FleetMember[];
  /** Stops every emulator and closes every transport. */
  stop(): Promise<void>;
}

export interface FleetHooks {
  /** A member's link died (socat killed, the TCP port failed); the fleet is no longer whole. */
  onLost(index: number, reason: string): void;
}

function openTransport(config: EmulatorConfig, index: number, hooks: FleetHooks): Promise<EmulatorTransport> {
  switch (config.transport) {
    case 'pty': {
      const link = resolve(config.count === 1 ? config.link : `${config.link}-${index + 1}`);
      mkdirSync(dirname(link), { recursive: true });
      return openPtyTransport({ link, onLost: (reason) => hooks.onLost(index, reason) });
    }
    case 'tcp':
      return openTcpTransport({
        host: config.host,
        port: config.port === 0 ? 0 : config.port + index,
        onError: (error) => hooks.onLost(index, `the TCP port failed: ${error.message}`),
      });
    case 'stdio':
      return Promise.resolve(openStdioTransport());
  }
}

function makeEmulator(config: EmulatorConfig, seed: number, transport: EmulatorTransport): LineEmulator | ModbusEmulator {
  const common = {
    seed,
    intervalMs: config.intervalMs,
    speed: config.speed,
    setpoint: config.setpoint,
    program: config.program,
    scenario: config.scenario,
  };
  switch (config.protocol) {
    case 'line':
      return new LineEmulator({ ...common, checksum: config.checksum, baudRate: config.baudRate, write: (data) => transport.write(data) });
    case 'modbus':
      return new ModbusEmulator({ ...common, slaveId: config.slaveId, link: transport });
  }
}

/** Opens `config.count` transports and starts an emulator on each; on a failure, closes what it opened. */
export async function startFleet(config: EmulatorConfig, hooks: FleetHooks): Promise<Fleet> {
  const members: FleetMember[] = [];
  const stop = async () => {
    members.forEach((member) => member.emulator.stop());
    await Promise.all(members.map((member) => member.transport.close()));
  };
  try {
    for (let index = 0; index < config.count; index++) {
      const transport = await openTransport(config, index, hooks);
      const seed = config.seed + index;
      let emulator: LineEmulator | ModbusEmulator;
      try {
        emulator = makeEmulator(config, seed, transport);
      } catch (error) {
        await transport.close();
        throw error;
      }
      members.push({ index, seed, transport, emulator });
      emulator.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { members, stop };
}

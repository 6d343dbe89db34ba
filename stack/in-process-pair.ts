import { Writable } from 'node:stream';
import { pino } from 'pino';
import { type RunningAgent, loadAgentConfig, startAgent } from '../agent/index.js';
import { LineEmulator, openInProcessTransport, parseScenario } from '../hardware/index.js';

export interface InProcessPair {
  agent: RunningAgent;
  stop(): Promise<void>;
}

/**
 * The emulator and the agent in this process, joined through serialport's mock binding:
 * for machines without socat. The agent runs its real serial code against the mock port.
 */
export function startInProcessPair(options: {
  device: string;
  mqttUrl: string;
  /** Agent settings from the environment's names (FURNACE_AGENT_MQTT_USERNAME, ...). */
  env: NodeJS.ProcessEnv;
  dataDir: string;
  healthPort: number;
  intervalMs: number;
  speed: number;
  /** The furnace's setpoint, °C, and its fault scenario (the emulator's --setpoint and --scenario). */
  setpoint: number;
  scenario: string;
  print: (line: string) => void;
}): InProcessPair {
  const transport = openInProcessTransport('/dev/ttyFURNACE0');
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) options.print(line);
      done();
    },
  });
  const log = pino({ base: { part: 'agent' } }, sink);
  const config = loadAgentConfig(undefined, options.env, {
    device: options.device,
    'serial.path': transport.devicePath,
    'mqtt.url': options.mqttUrl,
    dataDir: options.dataDir,
    'health.port': String(options.healthPort),
  });
  const agent = startAgent(config, { log, binding: transport.binding });
  // Seed 1 is the emulator CLI's default: both paths of npm start give the same readings.
  const emulator = new LineEmulator({
    seed: 1,
    intervalMs: options.intervalMs,
    speed: options.speed,
    setpoint: options.setpoint,
    scenario: parseScenario(options.scenario),
    write: (line) => transport.write(line),
  });
  emulator.start();
  return {
    agent,
    async stop() {
      emulator.stop();
      await agent.stop();
      await transport.close();
    },
  };
}

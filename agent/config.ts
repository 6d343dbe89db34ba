import { type Static, Type } from '@sinclair/typebox';
import { SEGMENT_PATTERN, loadSettings } from '../contract/index.js';

const idRule = '1 to 64 characters of A-Z a-z 0-9 _ -';

export const AgentConfigSchema = Type.Object(
  {
    device: Type.String({ pattern: SEGMENT_PATTERN, description: `this furnace's device id: ${idRule}` }),
    dataDir: Type.String({ minLength: 1, default: './data/agent', description: 'folder of the durable outbox' }),
    serial: Type.Object(
      {
        path: Type.String({ minLength: 1, description: 'the serial device the sensor is on, e.g. /dev/ttyUSB0' }),
        baudRate: Type.Integer({ minimum: 50, maximum: 4_000_000, default: 9600, description: 'line speed in baud' }),
        reopenMaxMs: Type.Integer({
          minimum: 100,
          maximum: 600_000,
          default: 30_000,
          description: 'longest wait between two attempts to reopen a failed port, in ms',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    sensor: Type.Object(
      {
        id: Type.String({ pattern: SEGMENT_PATTERN, default: 'tc1', description: `sensor id: ${idRule}` }),
        unit: Type.String({ minLength: 1, maxLength: 16, default: 'C', description: 'unit of the values' }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtts?|wss?|tcp|tls)://', default: 'mqtt://localhost:1883', description: 'broker URL, mqtt:// or mqtts://' }),
        username: Type.Optional(Type.String({ description: 'broker user name' })),
        password: Type.Optional(Type.String({ description: 'broker password' })),
        batchMaxReadings: Type.Integer({ minimum: 1, maximum: 1000, default: 100, description: 'readings per batch at most' }),
        batchIntervalMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000, description: 'longest wait before a partial batch is sent, in ms' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

export const AGENT_ENV_PREFIX = 'FURNACE_AGENT';

export function loadAgentConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): AgentConfig {
  return loadSettings(AgentConfigSchema, { file, env, envPrefix: AGENT_ENV_PREFIX, overrides });
}

import { type Static, Type } from '@sinclair/typebox';
import { loadSettings } from '../contract/index.js';

export const BrokerConfigSchema = Type.Object(
  {
    tcp: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address the MQTT listener binds' }),
        port: Type.Integer({ minimum: 0, maximum: 65_535, default: 1883, description: 'MQTT TCP port (0: any free port)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    limits: Type.Object(
      {
        drainTimeoutMs: Type.Integer({
          minimum: 100,
          maximum: 600_000,
          default: 10_000,
          description: 'a subscriber whose socket stays full this long is disconnected, so it cannot stall the others (ms)',
        }),
        connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000, description: 'time a client has to send CONNECT (ms)' }),
        maxClientIdLength: Type.Integer({ minimum: 23, maximum: 65_535, default: 128, description: 'longest client id accepted' }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type BrokerConfig = Static<typeof BrokerConfigSchema>;

export const BROKER_ENV_PREFIX = 'FURNACE_BROKER';

export function loadBrokerConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): BrokerConfig {
  return loadSettings(BrokerConfigSchema, { file, env, envPrefix: BROKER_ENV_PREFIX, overrides });
}

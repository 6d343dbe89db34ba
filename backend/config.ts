import { type Static, Type } from '@sinclair/typebox';
import { loadSettings } from '../contract/index.js';

export const BackendConfigSchema = Type.Object(
  {
    dataDir: Type.String({ minLength: 1, default: './data/backend', description: 'folder of the SQLite store' }),
    http: Type.Object(
      {
        host: Type.String({ minLength: 1, default: '0.0.0.0', description: 'address the HTTP API binds' }),
        port: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080, description: 'HTTP API port (0: any free port)' }),
      },
      { additionalProperties: false, default: {} },
    ),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtts?|wss?|tcp|tls)://', default: 'mqtt://localhost:1883', description: 'broker URL' }),
        clientId: Type.String({
          pattern: '^[A-Za-z0-9_-]{1,128}$',
          default: 'furnace-backend',
          description: 'fixed client id: with it the broker keeps this backend session while it is away',
        }),
        username: Type.Optional(Type.String({ description: 'broker user name' })),
        password: Type.Optional(Type.String({ description: 'broker password' })),
        maxPayloadBytes: Type.Integer({
          minimum: 1024,
          maximum: 16 * 1024 * 1024,
          default: 512 * 1024,
          description: 'larger payloads are refused unread',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);
export type BackendConfig = Static<typeof BackendConfigSchema>;

export const BACKEND_ENV_PREFIX = 'FURNACE_BACKEND';

export function loadBackendConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): BackendConfig {
  return loadSettings(BackendConfigSchema, { file, env, envPrefix: BACKEND_ENV_PREFIX, overrides });
}

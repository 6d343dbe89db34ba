import { SettingsError, loadSettings } from '../contract/index.js';
import type { RenamedSettings, SettingsDeprecation } from '../contract/settings.js';
import { type AgentConfig, AgentConfigSchema } from './config-schema.js';
import { planAgent } from './sensor-plan.js';

export { AgentConfigSchema, type AgentConfig } from './config-schema.js';
/** The settings as `--print-config` shows them: passwords, and credentials inside URLs, masked. */
export { maskSecrets } from '../contract/settings.js';

export const AGENT_ENV_PREFIX = 'FURNACE_AGENT';

/** Old names that still work (file and FURNACE_AGENT_* variable), with a warning naming the new one. */
const RENAMED: RenamedSettings = {
  // One name across the parts: the backend's (and the broker's limits.keepalive*Seconds).
  'mqtt.keepaliveS': 'mqtt.keepaliveSeconds',
};

/**
 * The agent's settings: YAML file < environment (FURNACE_AGENT_<KEY_PATH>) < flags, checked
 * against the schema and then against each other (ports and sensors); every problem is
 * reported at once in one SettingsError. A renamed key's old name still works; each use of it
 * goes to `onDeprecated` (default: a Node DeprecationWarning on stderr).
 */
export function loadAgentConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
  onDeprecated?: (deprecation: SettingsDeprecation) => void,
): AgentConfig {
  const config = loadSettings(AgentConfigSchema, { file, env, envPrefix: AGENT_ENV_PREFIX, overrides, renamed: RENAMED, onDeprecated });
  const { problems } = planAgent(config);
  if (problems.length > 0) throw new SettingsError(problems.map((problem) => `${problem} [from ${file ? `file ${file}` : 'settings'}]`));
  return config;
}

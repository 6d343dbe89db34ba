import { SettingsError, loadSettings } from '../contract/index.js';
import { type AgentConfig, AgentConfigSchema } from './config-schema.js';
import { planAgent } from './sensor-plan.js';

export { AgentConfigSchema, type AgentConfig } from './config-schema.js';

export const AGENT_ENV_PREFIX = 'FURNACE_AGENT';

/**
 * The agent's settings: YAML file < environment (FURNACE_AGENT_<KEY_PATH>) < flags, checked
 * against the schema and then against each other (ports and sensors); every problem is
 * reported at once in one SettingsError.
 */
export function loadAgentConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string | undefined> = {},
): AgentConfig {
  const config = loadSettings(AgentConfigSchema, { file, env, envPrefix: AGENT_ENV_PREFIX, overrides });
  const { problems } = planAgent(config);
  if (problems.length > 0) throw new SettingsError(problems.map((problem) => `${problem} [from ${file ? `file ${file}` : 'settings'}]`));
  return config;
}

const MASK = '********';

/** The settings as `--print-config` shows them: the password, and any in the broker URL, masked. */
export function maskSecrets(config: AgentConfig): AgentConfig {
  const { mqtt } = config;
  let url = mqtt.url;
  try {
    const parsed = new URL(mqtt.url);
    if (parsed.password !== '') {
      parsed.password = MASK;
      url = parsed.toString();
    }
  } catch {
    // not a URL the WHATWG parser takes: it carries no password we could find either
  }
  return { ...config, mqtt: { ...mqtt, url, ...(mqtt.password === undefined ? {} : { password: MASK }) } };
}

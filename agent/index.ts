// agent/: the edge agent's public surface: what the stack and other parts use. Tests import the modules.
export { startAgent, type RunningAgent } from './agent.js';
export { type AgentConfig, loadAgentConfig } from './config.js';
export { AgentError, type AgentErrorCode } from './errors.js';

// agent/: the edge agent's public surface.
export { startAgent, type RunningAgent, type AgentStats, type AgentDependencies } from './agent.js';
export { AgentConfigSchema, type AgentConfig, loadAgentConfig, maskSecrets, AGENT_ENV_PREFIX } from './config.js';
export { AgentError, type AgentErrorCode } from './errors.js';
export { parseSensorLine, type ParsedLine } from './line-parser.js';
export { DurableOutbox, type NewReading, type OutboxEntry } from './outbox.js';
export { SerialSource, type SerialSourceOptions, type SourceState } from './serial-source.js';
export { planAgent, type AgentPlan, type PortPlan, type SensorPlan } from './sensor-plan.js';

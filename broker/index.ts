// broker/: the MQTT broker's public surface.
export { startBroker, type RunningBroker } from './broker.js';
export { BrokerConfigSchema, type BrokerConfig, loadBrokerConfig, BROKER_ENV_PREFIX } from './config.js';
export { BrokerError, type BrokerErrorCode } from './errors.js';

// broker/: the MQTT broker's public surface.
export { startBroker, type RunningBroker } from './broker.js';
export { BrokerConfigSchema, type BrokerConfig, type Role, ROLES, loadBrokerConfig, BROKER_ENV_PREFIX } from './config.js';
export { BrokerError, type BrokerErrorCode } from './errors.js';
export { type Credential, formatCredentials, parseCredentials, readCredentialsFile, writeCredentialsFile } from './credentials.js';
export { hashPassword, verifyPassword } from './password-hash.js';
export { runPasswd } from './passwd-cli.js';

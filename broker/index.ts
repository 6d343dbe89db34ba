// broker/: the MQTT broker's public surface: what the stack, bench and cross-part tests use. Tests of the broker import the modules.
export { startBroker, type RunningBroker } from './broker.js';
export { type BrokerConfig, type Role, loadBrokerConfig } from './config.js';
export { BrokerError, type BrokerErrorCode } from './errors.js';
export { type Credential, writeCredentialsFile } from './access/credentials.js';
export { hashPassword } from './access/password-hash.js';

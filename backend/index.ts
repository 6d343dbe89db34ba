// backend/: the backend's public surface: what the stack and other parts use. Tests import the modules.
export { startBackend, type RunningBackend } from './backend.js';
export { type BackendConfig, loadBackendConfig } from './config.js';
export { BackendError, type BackendErrorCode, type ApiErrorCode, API_ERRORS } from './errors.js';

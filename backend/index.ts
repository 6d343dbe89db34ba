// backend/: the backend's public surface.
export { startBackend, type RunningBackend } from './backend.js';
export { BackendConfigSchema, type BackendConfig, loadBackendConfig, BACKEND_ENV_PREFIX } from './config.js';
export { BackendError, type BackendErrorCode, ApiError, type ApiErrorCode, API_ERRORS } from './errors.js';
export { buildApp, type AppDependencies } from './http/app.js';
export { Ingest, type IngestOptions } from './ingest.js';
export { BackendMetrics } from './metrics.js';
export type { ReadingStore, StoredReading, DeviceSummary, InsertResult } from './store/reading-store.js';
export { SqliteReadingStore } from './store/sqlite-store.js';

// backend/: the backend's public surface.
export { startBackend, type RunningBackend } from './backend.js';
export { CommandClient, type CommandAnswer, type CommandRequest, type CommandSender } from './commands/command-client.js';
export { CommandError, type CommandErrorCode } from './commands/command-errors.js';
export { GapFiller } from './commands/gap-filler.js';
export { BackendConfigSchema, type BackendConfig, type ApiTokenConfig, loadBackendConfig, BACKEND_ENV_PREFIX } from './config.js';
export { BackendError, type BackendErrorCode, ApiError, type ApiErrorCode, API_ERRORS } from './errors.js';
export { buildApp, type AppDependencies } from './http/app.js';
export { hashToken, newToken, type Scope } from './http/auth.js';
export { Ingest, type IngestOptions } from './ingest/ingest.js';
export type { CommitInfo } from './ingest/write-batcher.js';
export { BackendMetrics } from './metrics.js';
export { DeviceRegistry, type RegistryEntry } from './registry/device-registry.js';
export type {
  ReadingStore,
  StoredReading,
  DeviceSummary,
  InsertResult,
  BatchToInsert,
  SeqGap,
  Aggregate,
  AggregateQuery,
  AggregatePage,
  AggregatePoint,
  RawQuery,
  Page,
  RetentionPolicy,
  RetentionResult,
  StoreHealth,
} from './store/reading-store.js';
export { SqliteReadingStore, SQLITE_FILE } from './store/sqlite-store.js';

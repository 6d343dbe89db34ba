import type { Logger } from 'pino';
import type { BackendConfig } from '../config.js';
import type { BackendMetrics } from '../metrics.js';
import { InfluxReadingStore } from './influx/influx-store.js';
import type { ReadingStore } from './reading-store.js';
import { SqliteReadingStore } from './sqlite-store.js';

/** The reading store `store.kind` names. Alert state, silences, the registry and (for InfluxDB) seq ranges stay in SQLite files in dataDir either way. */
export async function openReadingStore(config: BackendConfig, metrics: BackendMetrics, log: Logger): Promise<ReadingStore> {
  const observeQuery = (kind: 'raw' | 'aggregate', outcome: string, seconds: number) =>
    metrics.querySeconds.observe({ kind, outcome }, seconds);
  switch (config.store.kind) {
    case 'sqlite':
      return new SqliteReadingStore(config.dataDir, {
        retention: config.store,
        query: config.query,
        log: log.child({ component: 'backend:query' }),
        observeQuery,
      });
    case 'influxdb': {
      const store = new InfluxReadingStore({
        settings: config.store.influx,
        dataDir: config.dataDir,
        queryTimeoutMs: config.query.timeoutMs,
        log: log.child({ component: 'backend:influx' }),
        onRefused: (count, error) => metrics.readingsRefused.inc({ code: error.code }, count),
        observeQuery,
      });
      // Reports a wrong URL, token or database at once, naming the setting; the backend starts all the same,
      // with /readyz saying why the store is not writable, and nothing is acknowledged until it is.
      await store.start();
      return store;
    }
  }
}

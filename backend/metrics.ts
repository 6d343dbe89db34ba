import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_CAUSES } from '../contract/index.js';

/** The backend's Prometheus metrics, on one registry of its own (so tests can run several backends). */
export class BackendMetrics {
  readonly registry = new Registry();
  readonly batchesReceived = new Counter({
    name: 'furnace_backend_batches_received_total',
    help: 'Readings batches received from the broker, valid or not',
    registers: [this.registry],
  });
  readonly readingsStored = new Counter({
    name: 'furnace_backend_readings_stored_total',
    help: 'Readings committed to the store',
    registers: [this.registry],
  });
  readonly readingsDuplicate = new Counter({
    name: 'furnace_backend_readings_duplicate_total',
    help: 'Readings dropped because the same (device, boot, seq) was stored already',
    registers: [this.registry],
  });
  readonly payloadsRejected = new Counter({
    name: 'furnace_backend_payloads_rejected_total',
    help: 'MQTT payloads refused, by cause',
    labelNames: ['cause'],
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'furnace_backend_store_errors_total',
    help: 'Failed store writes (each is retried; the broker is not acknowledged until it succeeds)',
    registers: [this.registry],
  });
  readonly mqttConnected = new Gauge({
    name: 'furnace_backend_mqtt_connected',
    help: '1 while the backend is connected to the broker',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'furnace_backend_' });
    // Every cause shows from the start at 0, so a dashboard can rate() it before the first rejection.
    for (const cause of [...REJECT_CAUSES, 'unknown_topic']) this.payloadsRejected.inc({ cause }, 0);
  }
}

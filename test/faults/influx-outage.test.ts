// The InfluxDB store under the fault of its database: a real agent streams 10 readings a second
// (emulator → socat → agent → broker → backend, separate processes, as in faults.test.ts) into a
// real InfluxDB 1.6; InfluxDB is stopped for 30 s and started again on the same folder and port.
// Every reading must then be in InfluxDB exactly once: counted from InfluxDB itself.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { type InfluxDb, startInfluxDb } from '../helpers/influxdb.js';
import { stopAllProcesses } from '../helpers/process.js';
import { describeWithProgram } from '../helpers/require-program.js';
import { stackUsers, writeBrokerUsers } from './brokers.js';
import { formatRow } from './fault-table.js';
import { faultLasting, seenWithin } from './fault-time.js';
import { apiStatus } from './probes.js';
import { DEVICE, FaultStack } from './stack.js';
import { type Tally, seqRanges, tallyRecovery } from './tally.js';

const OUTAGE_MS = 30_000;
const DATABASE = 'faults';

/** Seq runs the backend recorded as written (its InfluxDB index), one row per seq: what `flowing` and the recovery wait watch. */
function indexedSeqs(stack: FaultStack): Map<number, number> {
  const seqs = new Map<number, number>();
  let db: Database.Database;
  try {
    db = new Database(join(stack.backendDir, 'influx-index.sqlite'), { readonly: true, fileMustExist: true });
  } catch {
    return seqs;
  }
  try {
    const runs = db.prepare('SELECT first_seq AS first, last_seq AS last FROM seq_ranges WHERE device = ?').all(DEVICE) as Array<{
      first: number;
      last: number;
    }>;
    for (const { first, last } of runs) for (let seq = first; seq <= last; seq++) seqs.set(seq, 1);
  } catch {
    // no table yet
  } finally {
    db.close();
  }
  return seqs;
}

/** Points per seq of the device, as InfluxDB holds them. */
async function influxSeqs(influx: InfluxDb): Promise<Map<number, number>> {
  const params = new URLSearchParams({ db: DATABASE, epoch: 'ms', q: `SELECT "seq" FROM "readings" WHERE "device" = '${DEVICE}'` });
  const answer = (await (await fetch(`${influx.url}/query?${params.toString()}`)).json()) as {
    results: Array<{ series?: Array<{ values: unknown[][] }> }>;
  };
  const seqs = new Map<number, number>();
  for (const series of answer.results[0]?.series ?? [])
    for (const [, seq] of series.values) seqs.set(Number(seq), (seqs.get(Number(seq)) ?? 0) + 1);
  return seqs;
}

describeWithProgram('influxd', 'influxdb', 'InfluxDB store, InfluxDB down', () => {
  describeWithProgram('socat', 'socat', 'faults, from outside', () => {
    let stack: FaultStack | undefined;
    let influx: InfluxDb | undefined;
    let dir: string | undefined;
    afterEach(async () => {
      await stack?.dispose();
      await influx?.stop();
      await stopAllProcesses();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it(
      `11. InfluxDB stopped ${OUTAGE_MS / 1000} s during a stream, then started again: every reading stored once`,
      { timeout: 150_000 },
      async () => {
        dir = await mkdtemp(join(tmpdir(), 'test-influx-outage-'));
        const users = { ...stackUsers(DEVICE), file: join(dir, 'broker-users') };
        await writeBrokerUsers(users.file, users);
        const first = (influx = await startInfluxDb({ dir: join(dir, 'influxdb') }));
        const s = (stack = new FaultStack(users, {
          backendEnv: {
            FURNACE_BACKEND_STORE_KIND: 'influxdb',
            FURNACE_BACKEND_STORE_INFLUX_URL: first.url,
            FURNACE_BACKEND_STORE_INFLUX_DATABASE: DATABASE,
            // Ingest hears of a failure within 3 s (and says so in /readyz), then tries again.
            FURNACE_BACKEND_STORE_INFLUX_RETRY_FOR_MS: '3000',
          },
          storedSeqs: indexedSeqs,
        }));
        await s.start();
        await s.flowing(20);

        const fault = faultLasting(OUTAGE_MS);
        await first.stop();
        const notReady = await seenWithin(fault.remaining(), async () => {
          const response = await fetch(`${s.apiUrl}/readyz`).catch(() => undefined);
          return response?.status === 503 && /InfluxDB/.test(await response.text());
        });
        expect.soft(notReady, '/readyz says 503, naming InfluxDB, while it is down').toBe(true);
        // The query side answers what does not need InfluxDB: the latest readings and the devices.
        expect.soft(await apiStatus(s, `/api/v1/devices/${DEVICE}/latest`), 'GET /latest while InfluxDB is down').toBe(200);
        await fault.over();
        influx = await startInfluxDb({ dir: first.dir, port: first.port, rpcPort: first.rpcPort });
        const faultEnd = Date.now();

        const recovery = await tallyRecovery(s, faultEnd, 40_000);
        const inInflux = await influxSeqs(influx);
        const missing: number[] = [];
        for (let seq = 1; seq <= recovery.produced; seq++) if (!inInflux.has(seq)) missing.push(seq);
        const tally: Tally = {
          produced: recovery.produced,
          stored: recovery.produced - missing.length,
          doubled: [...inInflux.values()].filter((n) => n > 1).length,
          missing,
          recoverMs: recovery.recoverMs,
          notes: [`counted in InfluxDB: ${inInflux.size} seqs`],
        };
        console.log(formatRow({ row: `11. InfluxDB stopped ${OUTAGE_MS / 1000} s (store.kind influxdb)`, tally }));
        console.log(`produced ${tally.produced}, stored ${tally.stored}, doubled ${tally.doubled}, lost ${missing.length}`);
        expect(tally.doubled, 'readings stored more than once').toBe(0);
        expect(missing.length, `readings lost: seq ${seqRanges(missing)} of 1..${tally.produced} missing from InfluxDB`).toBe(0);
        await s.flowing(10); // and it goes on
        expect(await apiStatus(s, '/readyz')).toBe(200);
      },
    );
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InfluxDb, startInfluxDb } from '../../../test/helpers/influxdb.js';
import { type StoreFixtureOptions, describeReadingStoreContract } from '../../../test/helpers/reading-store-contract.js';
import { BOOT, DEVICE, T0, batch, reading } from '../../../test/helpers/reading-store-fixtures.js';
import { describeWithProgram } from '../../../test/helpers/require-program.js';
import { InfluxHttp } from './influx-http.js';
import { type InfluxSettings, InfluxSettingsSchema } from './influx-settings.js';
import { InfluxReadingStore, isBefore18 } from './influx-store.js';
import { Value } from '@sinclair/typebox/value';
import { freePort } from '../../../test/helpers/free-port.js';

/** Settings with the schema's defaults, for a server and database. */
export function influxSettings(overrides: Partial<InfluxSettings>): InfluxSettings {
  return { ...(Value.Default(InfluxSettingsSchema, {}) as InfluxSettings), ...overrides };
}

let databases = 0;

describeWithProgram('influxd', 'influxdb', 'InfluxReadingStore on InfluxDB 1.6', () => {
  let influx: InfluxDb;
  beforeAll(async () => {
    influx = await startInfluxDb();
  }, 30_000);
  afterAll(async () => {
    await influx?.stop();
  });

  /** A fresh database (made by the store: createDatabase) and index folder per fixture. */
  const openFixture = (options: StoreFixtureOptions = {}, extra: Partial<InfluxSettings> = {}) => {
    void options;
    const dir = mkdtempSync(join(tmpdir(), 'influx-contract-'));
    const settings = influxSettings({ url: influx.url, database: `contract_${process.pid}_${++databases}`, ...extra });
    const open = () => new InfluxReadingStore({ settings, dataDir: dir, queryTimeoutMs: 10_000 });
    let store = open();
    return Promise.resolve({
      get store() {
        return store;
      },
      settings,
      async reopen() {
        await store.close();
        return (store = open());
      },
      async dispose() {
        await store.close();
        await new InfluxHttp(settings).query(`DROP DATABASE "${settings.database}"`, { write: true });
        rmSync(dir, { recursive: true, force: true });
      },
    });
  };

  describeReadingStoreContract('InfluxReadingStore (InfluxDB 1.6, v1 writes)', (options) => openFixture(options), { retention: 'engine' });

  describe('InfluxDB particulars', () => {
    it('detects a server before 1.8 and writes through /write; says it is writable', async () => {
      expect([isBefore18('1.6.7~rc0'), isBefore18('1.8.10'), isBefore18('v2.7.1'), isBefore18('')]).toEqual([true, false, false, false]);
      const fixture = await openFixture();
      try {
        await fixture.store.insertBatch(batch([reading(1)]), T0);
        expect(await fixture.store.health()).toEqual({ writable: true });
      } finally {
        await fixture.dispose();
      }
    });

    it('escapes what line protocol needs: a unit with quotes, backslash, comma, equals, space and newline comes back exact', async () => {
      const fixture = await openFixture();
      try {
        const units = ['a "b" \\ c, d=e', 'x\ny', '°C', "it's"];
        await fixture.store.insertBatch(batch(units.map((unit, i) => reading(i + 1, { unit }))), T0);
        const stored = await fixture.store.readings(DEVICE);
        expect(stored.map((r) => r.unit)).toEqual(units);
      } finally {
        await fixture.dispose();
      }
    });

    it('keeps two readings of one sensor with the same ts and boot apart (a clock stepped back)', async () => {
      const fixture = await openFixture();
      try {
        await fixture.store.insertBatch(batch([reading(1, { ts: T0, value: 1 }), reading(2, { ts: T0, value: 2 })]), T0);
        const page = await fixture.store.rawRange({ device: DEVICE, from: T0, to: T0 + 1, limit: 10 });
        expect(page.items.map((r) => [r.seq, r.ts, r.value, r.boot])).toEqual([
          [1, T0, 1, BOOT],
          [2, T0, 2, BOOT],
        ]);
      } finally {
        await fixture.dispose();
      }
    });

    it('names the setting: a database that does not exist (createDatabase off) is reported, nothing is recorded, and the write goes through once it exists', async () => {
      const fixture = await openFixture({}, { createDatabase: false, retryForMs: 300 });
      try {
        const write = fixture.store.insertBatch(batch([reading(1)]), T0);
        await expect(write).rejects.toMatchObject({
          code: 'STORE_INFLUX_NOT_FOUND',
          message: expect.stringContaining('store.influx.database') as string,
        });
        expect(await fixture.store.health()).toMatchObject({ writable: false, detail: expect.stringContaining('404') as string });
        expect(await fixture.store.storedRuns(DEVICE, BOOT, 1, 1, 10)).toEqual([]);
        await new InfluxHttp(fixture.settings).query(`CREATE DATABASE "${fixture.settings.database}"`, { write: true });
        expect(await fixture.store.insertBatch(batch([reading(1)]), T0)).toMatchObject({ inserted: 1 });
        expect(await fixture.store.health()).toEqual({ writable: true });
      } finally {
        await fixture.dispose();
      }
    });

    it('counts a reading InfluxDB refuses for good (a field type conflict), writes the rest of its batch, and does not retry it', async () => {
      const refused: Array<[number, string]> = [];
      const dir = mkdtempSync(join(tmpdir(), 'influx-refused-'));
      const settings = influxSettings({ url: influx.url, database: `refused_${process.pid}` });
      const store = new InfluxReadingStore({ settings, dataDir: dir, onRefused: (count, error) => refused.push([count, error.code]) });
      try {
        await store.insertBatch(batch([reading(1)]), T0);
        // Someone else's point makes "value" an integer in the shard (a week by default) of T0 + 30 days.
        const other = await fetch(`${influx.url}/write?db=${settings.database}&precision=ms`, {
          method: 'POST',
          body: `readings,device=other,sensor=x,boot=y value=5i ${T0 + 30 * 86_400_000}`,
        });
        expect(other.status).toBe(204);
        const result = await store.insertBatch(batch([reading(2), reading(3, { ts: T0 + 30 * 86_400_000 + 5 }), reading(4)]), T0);
        expect(result).toMatchObject({ inserted: 2, duplicates: 0 });
        expect(refused).toEqual([[1, 'STORE_INFLUX_REFUSED']]);
        expect((await store.readings(DEVICE)).map((r) => r.seq)).toEqual([1, 2, 4]);
        // Done with, all the same: confirmed to the agent so that it is not sent for ever.
        expect(await store.storedRuns(DEVICE, BOOT, 1, 4, 10)).toEqual([[1, 4]]);
      } finally {
        await store.close();
        await new InfluxHttp(settings).query(`DROP DATABASE "${settings.database}"`, { write: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });
    it('obeys Retry-After: a 429 from in front of InfluxDB makes the write wait that long, then it goes through', async () => {
      // A one-shot throttle in front of the real server, as a proxy or InfluxDB Cloud answers when over its limit.
      let throttled = 0;
      const proxy = createServer((request: IncomingMessage, response: ServerResponse) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          if (request.url?.startsWith('/write') && throttled++ === 0) {
            response.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"too many requests"}');
            return;
          }
          const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
          fetch(`${influx.url}${request.url ?? '/'}`, {
            method: request.method,
            body,
            headers: { 'content-type': request.headers['content-type'] ?? 'text/plain' },
          }).then(
            // fetch has decoded the body: its encoding and length headers no longer hold.
            async (answer) => {
              const headers = Object.fromEntries(
                [...answer.headers].filter(([name]) => !['content-encoding', 'content-length', 'transfer-encoding'].includes(name)),
              );
              response.writeHead(answer.status, headers).end(Buffer.from(await answer.arrayBuffer()));
            },
            () => response.writeHead(502).end(),
          );
        });
      });
      const port = await freePort();
      await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
      const fixture = await openFixture({}, { url: `http://127.0.0.1:${port}`, writeMode: 'v1' });
      try {
        const started = performance.now();
        expect(await fixture.store.insertBatch(batch([reading(1), reading(2)]), T0)).toMatchObject({ inserted: 2 });
        expect(performance.now() - started).toBeGreaterThanOrEqual(990);
        expect(throttled).toBe(2);
        expect((await fixture.store.readings(DEVICE)).map((r) => r.seq)).toEqual([1, 2]);
      } finally {
        await fixture.dispose();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
  });

  describe('with InfluxDB authentication on', () => {
    let secured: InfluxDb;
    beforeAll(async () => {
      secured = await startInfluxDb({ auth: true });
      // 1.x lets the first user be made without credentials, and only an admin.
      const made = await fetch(`${secured.url}/query`, {
        method: 'POST',
        body: new URLSearchParams({ q: "CREATE USER admin WITH PASSWORD 'right' WITH ALL PRIVILEGES" }),
      });
      expect(made.status).toBe(200);
    }, 30_000);
    afterAll(async () => {
      await secured?.stop();
    });

    it('names the credentials settings on a 401, says so in health, and writes once they are right', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'influx-auth-'));
      const settings = (password: string) => influxSettings({ url: secured.url, database: 'secured', username: 'admin', password });
      const wrong = new InfluxReadingStore({ settings: settings('wrong'), dataDir: dir });
      try {
        await wrong.start();
        await expect(wrong.insertBatch(batch([reading(1)]), T0)).rejects.toMatchObject({
          code: 'STORE_INFLUX_UNAUTHORIZED',
          message: expect.stringMatching(/refused the credentials \(401 .*store\.influx\.username and store\.influx\.password/) as string,
        });
        expect(await wrong.health()).toMatchObject({ writable: false, detail: expect.stringContaining('store.influx.token') as string });
      } finally {
        await wrong.close();
      }
      const right = new InfluxReadingStore({ settings: settings('right'), dataDir: dir });
      try {
        await right.start();
        expect(await right.insertBatch(batch([reading(1)]), T0)).toMatchObject({ inserted: 1 });
        expect((await right.readings(DEVICE)).map((r) => r.seq)).toEqual([1]);
        expect(await right.health()).toEqual({ writable: true });
      } finally {
        await right.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

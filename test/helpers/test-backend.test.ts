// startTestBackend leaves no folder of its own behind, keeps a folder it was given, and a second
// backend on that folder finds the first one's readings (a restart). No broker listens: none is needed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiGet, readingsBatch } from './backend-http.js';
import { freePort } from './free-port.js';
import { type TestBackend, startTestBackend } from './test-backend.js';

const started: TestBackend[] = [];
afterEach(async () => {
  for (const backend of started.splice(0)) await backend.close();
});

async function start(dir?: string): Promise<TestBackend> {
  const backend = await startTestBackend({ mqttUrl: `mqtt://127.0.0.1:${await freePort()}`, dir });
  started.push(backend);
  return backend;
}

describe('startTestBackend', () => {
  it('answers on 127.0.0.1 with the test tokens, and removes the temp folder it made on close', async () => {
    const backend = await start();
    expect(backend.base).toBe(`http://127.0.0.1:${backend.port}`);
    expect(backend.dataDir).toBe(join(backend.dir, 'backend'));
    expect(await apiGet(backend.base, '/api/v1/devices')).toMatchObject({ status: 200, body: { devices: [] } });
    await backend.close();
    expect(existsSync(backend.dir)).toBe(false);
    await backend.close(); // a second close, as a cleanup after the test's own, is harmless
  });

  it('keeps a folder it was given, and a restart on it finds the readings stored before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'test-backend-restart-'));
    try {
      const first = await start(dir);
      await first.store.insertBatch(
        readingsBatch('furnace-kept', 'boot-a', [1, 2], (seq) => Date.now() - 10_000 + seq),
        Date.now(),
      );
      await first.close();
      expect(existsSync(first.dataDir)).toBe(true);
      const second = await start(dir);
      expect((await second.store.readings('furnace-kept')).map((reading) => reading.seq)).toEqual([1, 2]);
    } finally {
      for (const backend of started.splice(0)) await backend.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Gap filling end to end: readings go missing on their way, the backend sees the seq gap stay
// open, asks the agent (an MQTT.js client playing it, through our broker with ACLs) to send the
// range again with the resend command, and the gaps API shows the gap filled.
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Reading } from '../contract/index.js';
import { allReadings, apiGet, publishBatch, readingsBatch } from './helpers/backend-http.js';
import { CommandAgent } from './helpers/command-agent.js';
import { type TestBackend, startTestBackend } from './helpers/test-backend.js';
import { type TestBroker, USERS, startTestBroker } from './helpers/test-broker.js';
import { waitFor } from './helpers/wait-for.js';

const DEVICE = USERS.devA.username;
const FILL_AFTER_MS = 400;
const T0 = Date.now() - 60_000;
const tsOf = (seq: number) => T0 + seq * 1000;

let broker: TestBroker;
let backend: TestBackend;
let agent: CommandAgent | undefined;
beforeEach(async () => {
  broker = await startTestBroker();
  backend = await startTestBackend({
    mqttUrl: broker.url,
    settings: {
      mqtt: { username: USERS.backend.username, password: USERS.backend.password },
      commands: { fillGapsAfterMs: FILL_AFTER_MS, fillGapsRepeatMs: 10_000 },
      ingest: { batchMaxDelayMs: 5 },
      alerts: { mqtt: false },
    },
    flags: { 'mqtt.clientId': USERS.backend.username },
  });
});
afterEach(async () => {
  await agent?.end();
  await backend.close();
  await broker.stop();
});

interface GapsBody {
  gaps: Array<{ boot: string; fromSeq: number; toSeq: number }>;
}

it('asks the agent for a gap that stays open and sees it filled, all readings stored once', async () => {
  const { base } = backend;
  await waitFor(() => backend.ingest.commandsProblem === undefined, { timeoutMs: 5000, what: 'the backend subscribed' });
  const connected = await CommandAgent.connect(broker.url, USERS.devA);
  agent = connected;
  const { boot } = connected;
  // The agent's outbox still holds every reading: it answers resend by sending the range again, then replies.
  connected.answer = async ({ command, request }) => {
    if (command !== 'resend') return { outcome: 'refused', code: 'AGENT_COMMAND_UNKNOWN' };
    const { fromSeq, toSeq } = request.args as { fromSeq: number; toSeq: number };
    const seqs = Array.from({ length: toSeq - fromSeq + 1 }, (_, i) => fromSeq + i);
    const batch = readingsBatch(DEVICE, boot, seqs, tsOf);
    await publishBatch(connected.client, { ...batch, readings: batch.readings.map((reading): Reading => ({ ...reading, replay: true })) });
    // As the agent's resend answers (agent/commands/resend.ts).
    return { outcome: 'ok', data: { boot, fromSeq, toSeq, held: seqs.length, notHeld: 0 } };
  };
  await waitFor(
    async () => (await apiGet<{ status?: { state: string } }>(base, `/api/v1/devices/${DEVICE}`)).body.status?.state === 'online',
    {
      timeoutMs: 5000,
      what: 'the device online',
    },
  );

  // 4..6 are lost on the way.
  await publishBatch(connected.client, readingsBatch(DEVICE, boot, [1, 2, 3], tsOf));
  await publishBatch(connected.client, readingsBatch(DEVICE, boot, [7, 8, 9], tsOf));
  const gapAt = Date.now();
  const open = await waitFor(
    async () => {
      const { body } = await apiGet<GapsBody>(base, `/api/v1/devices/${DEVICE}/gaps`);
      return body.gaps.length > 0 ? body.gaps : undefined;
    },
    { timeoutMs: 5000, what: 'the gap reported' },
  );
  expect(open).toEqual([expect.objectContaining({ boot, fromSeq: 4, toSeq: 6 })]);

  const resend = await connected.nextRequest();
  expect(resend).toMatchObject({ command: 'resend', request: { requester: 'gap-filler', args: { boot, fromSeq: 4, toSeq: 6 } } });
  // Not at once: the gap had to stay open for commands.fillGapsAfterMs.
  expect(resend.receivedAt - gapAt).toBeGreaterThanOrEqual(FILL_AFTER_MS - 50);

  await waitFor(async () => (await apiGet<GapsBody>(base, `/api/v1/devices/${DEVICE}/gaps`)).body.gaps.length === 0, {
    timeoutMs: 5000,
    what: 'the gap filled',
  });
  const stored = await allReadings(base, DEVICE, T0, T0 + 100_000);
  expect(stored.map((reading) => reading.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const metrics = await apiGet<string>(base, '/metrics', null);
  expect(metrics.body).toMatch(/^furnace_backend_commands_total\{command="resend",outcome="ok"\} 1$/m);
  expect(metrics.body).toMatch(/^furnace_backend_seq_gaps_closed_total 1$/m);
  // Filled, so never asked for again.
  expect(connected.received).toHaveLength(1);
});

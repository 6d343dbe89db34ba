import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SerialPort } from 'serialport';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openInProcessTransport } from '../../hardware/transports/in-process-transport.js';
import { capturedLog } from '../../test/helpers/agent-observer.js';
import { describeWithProgram } from '../../test/helpers/require-program.js';
import { startPtyPair } from '../../test/helpers/socat.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { SerialSource, type SerialSourceOptions, type SourceState } from '../../test/helpers/serial-source.js';

const log = pino({ level: 'silent' });
// Kept before any test fakes the timers: the deadlines below must run on real time.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;

/** A SerialSource with everything it emits recorded; afterEach stops it. */
interface Watched {
  source: SerialSource;
  states: SourceState[];
  reasons: (string | undefined)[];
  lines: string[];
}

const teardown: (() => Promise<void>)[] = [];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'serial-source-test-'));
});
afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  // Last started, first stopped: the source lets go of its port before the pty pair goes away.
  for (const step of teardown.splice(0).reverse()) await step();
  await rm(dir, { recursive: true, force: true });
});

function watch(options: Partial<SerialSourceOptions> & Pick<SerialSourceOptions, 'path'>): Watched {
  const source = new SerialSource({ baudRate: 9600, reopenMinMs: 20, reopenMaxMs: 200, log, ...options });
  const watched: Watched = { source, states: [], reasons: [], lines: [] };
  source.on('state', (state, reason) => {
    watched.states.push(state);
    watched.reasons.push(reason);
  });
  source.on('line', (line) => watched.lines.push(line));
  teardown.push(() => source.stop());
  return watched;
}

/** Resolves on the next `state` event equal to `state`; rejects after `timeoutMs` of real time. */
function nextState(source: SerialSource, state: SourceState, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = realSetTimeout(() => {
      source.off('state', onState);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for state ${state}`));
    }, timeoutMs);
    const onState = (seen: SourceState) => {
      if (seen !== state) return;
      realClearTimeout(timer);
      source.off('state', onState);
      resolve();
    };
    source.on('state', onState);
  });
}

/** Resolves with the next line the source emits; rejects after `timeoutMs` of real time. */
function nextLine(source: SerialSource, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = realSetTimeout(() => {
      source.off('line', onLine);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a line`));
    }, timeoutMs);
    const onLine = (line: string) => {
      realClearTimeout(timer);
      source.off('line', onLine);
      resolve(line);
    };
    source.on('line', onLine);
  });
}

/** Polls (real time) until a fake timer is pending: a link may set its reopen timer only once the port is closed. */
async function untilTimerPending(timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (vi.getTimerCount() === 0) {
    if (Date.now() > deadline) throw new Error(`no timer pending after ${timeoutMs} ms`);
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
}

/** Opens the far end of a pty pair as the sensor would write into it; afterEach closes it. */
async function openSensorSide(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  teardown.push(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
  return port;
}

function writeAll(port: SerialPort, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    port.write(data, 'latin1', (error) => (error ? reject(error) : port.drain(() => resolve())));
  });
}

describeWithProgram('socat', 'socat', 'SerialSource on a socat pty pair', () => {
  it('goes opening → open and emits the lines written on the other end', async () => {
    const pair = await startPtyPair();
    teardown.push(pair.stop);
    const { source, states, lines } = watch({ path: pair.a });
    const open = nextState(source, 'open');
    source.start();
    await open;
    expect(states).toEqual(['opening', 'open']);

    const sensor = await openSensorSide(pair.b);
    await writeAll(sensor, 'T=812.5\r\nERR=OPEN\r\nT=8');
    await writeAll(sensor, '13.0\r\n');
    await waitFor(() => lines.length >= 3, { timeoutMs: 5000, what: 'three lines from the pty' });
    expect(lines).toEqual(['T=812.5\r', 'ERR=OPEN\r', 'T=813.0\r']);
    expect(states).toEqual(['opening', 'open']);
  });

  it('reports closed and keeps retrying while the path is missing, then opens once the pty appears', async () => {
    const path = join(dir, 'a'); // where startPtyPair(dir) will put side a
    const { source, states, reasons, lines } = watch({ path });
    source.start();
    await waitFor(() => states.filter((state) => state === 'closed').length >= 3, {
      timeoutMs: 5000,
      what: 'three failed attempts to open the missing path',
    });
    expect(states.slice(0, 4)).toEqual(['opening', 'closed', 'opening', 'closed']);
    expect(reasons[1]).toMatch(/\S/); // the reason says why the open failed

    const pair = await startPtyPair(dir);
    teardown.splice(teardown.length - 1, 0, pair.stop); // stop the pair after the source
    expect(pair.a).toBe(path);
    await waitFor(() => states.at(-1) === 'open', { timeoutMs: 5000, what: 'the source to open the new pty' });
    // Every attempt is an 'opening' followed by its outcome, and only the last one succeeded.
    expect(states.length % 2).toBe(0);
    states.forEach((state, i) => expect(state).toBe(i % 2 === 0 ? 'opening' : i === states.length - 1 ? 'open' : 'closed'));

    const sensor = await openSensorSide(pair.b);
    await writeAll(sensor, 'T=20.5\r\n');
    await waitFor(() => lines.length >= 1, { timeoutMs: 5000, what: 'a line after reopening' });
    expect(lines).toEqual(['T=20.5\r']);
  });
});

describeWithProgram('socat', 'socat', 'SerialSource reopening a silent socat pty (fake timers)', () => {
  it('reopens a port that keeps stalling with growing, capped delays, and starts over once data comes', async () => {
    const pair = await startPtyPair();
    teardown.push(pair.stop);
    const sensor = await openSensorSide(pair.b); // open, but silent: the line of a hung sensor
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // jitter factor exactly 1
    const captured = capturedLog('debug');
    const { source, states, reasons } = watch({ path: pair.a, stallAfterMs: 100, reopenMinMs: 20, reopenMaxMs: 100, log: captured.logger });

    /** Waits (real time) for the port to open, lets it stay silent for the stall time, then measures the wait before the reopen. */
    const stallAndReopen = async (expectedDelay: number) => {
      await nextState(source, 'open');
      vi.advanceTimersByTime(99);
      expect(states.at(-1)).toBe('open'); // not stalled yet
      vi.advanceTimersByTime(1);
      expect(states.at(-1)).toBe('stalled');
      expect(reasons.at(-1)).toBe('no data for 100 ms');
      const stalled = states.length;
      await untilTimerPending();
      vi.advanceTimersByTime(expectedDelay - 1);
      expect(states, `reopened sooner than ${expectedDelay} ms after the stall`).toHaveLength(stalled);
      const opening = nextState(source, 'opening');
      vi.advanceTimersByTime(1);
      await opening;
    };

    source.start();
    for (const delay of [20, 40, 80, 100, 100]) await stallAndReopen(delay);
    const stallLines = () => captured.find('port stalled; reopening');
    // The first stall is a warning; the repeats are quiet, with the count and the wait.
    expect(stallLines().map(({ level, failures, retryInMs }) => [level, failures, retryInMs])).toEqual([
      [40, 1, 20],
      [20, 2, 40],
      [20, 3, 80],
      [20, 4, 100],
      [20, 5, 100],
    ]);
    expect(captured.find('port recovered')).toEqual([]); // reopening alone proves nothing

    // The sensor speaks again: the port works, and the next stall starts the delays over.
    await nextState(source, 'open');
    const line = nextLine(source);
    await writeAll(sensor, 'T=812.5\r\n');
    expect(await line).toBe('T=812.5\r');
    expect(captured.find('port recovered')).toEqual([expect.objectContaining({ level: 30, failures: 5 })]);
    vi.advanceTimersByTime(99);
    expect(states.at(-1)).toBe('open');
    vi.advanceTimersByTime(1);
    expect(states.at(-1)).toBe('stalled');
    expect(stallLines().at(-1)).toMatchObject({ level: 40, failures: 1, retryInMs: 20 });
    expect(states.filter((state) => state === 'closed')).toEqual([]); // stalls, never a lost port
  });
});

describe('SerialSource reopening (fake timers, missing path)', () => {
  it('reopens with growing, capped delays', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    vi.spyOn(Math, 'random').mockReturnValue(0.5); // jitter factor exactly 1
    const { source, states } = watch({ path: join(dir, 'missing'), reopenMinMs: 20, reopenMaxMs: 100 });
    let closed = nextState(source, 'closed');
    source.start();
    for (const delay of [20, 40, 80, 100, 100]) {
      await closed; // the real (native) open failed and the reopen timer is set
      const attempts = states.length;
      closed = nextState(source, 'closed');
      vi.advanceTimersByTime(delay - 1);
      expect(states).toHaveLength(attempts); // not yet
      vi.advanceTimersByTime(1);
      expect(states.slice(attempts)).toEqual(['opening']);
    }
    await closed;
  });

  it('stop() cancels the pending reopen: no state is emitted afterwards', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { source, states } = watch({ path: join(dir, 'missing') });
    const closed = nextState(source, 'closed');
    source.start();
    await closed;
    expect(vi.getTimerCount()).toBe(1); // the reopen timer
    await source.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(states).toEqual(['opening', 'closed']);
  });
});

describe('SerialSource on the in-process transport', () => {
  it('emits the lines the transport writes once the port is open', async () => {
    const transport = openInProcessTransport(`/dev/ttyFURNACE-test-${process.pid}`);
    teardown.push(() => transport.close());
    const { source, states, lines } = watch({ path: transport.devicePath, binding: transport.binding });
    const open = nextState(source, 'open');
    source.start();
    await open;
    expect(states).toEqual(['opening', 'open']);

    transport.write('T=812.5\r\nERR=OP');
    transport.write('EN\r\n');
    await waitFor(() => lines.length >= 2, { timeoutMs: 5000, what: 'two lines from the in-process transport' });
    expect(lines).toEqual(['T=812.5\r', 'ERR=OPEN\r']);
  });

  it('closes a port that finishes opening after stop(), so no line arrives after it', async () => {
    const transport = openInProcessTransport(`/dev/ttyFURNACE-stop-${process.pid}`);
    teardown.push(() => transport.close());
    const ports: Array<{ isOpen: boolean }> = [];
    const binding: SerialSourceOptions['binding'] = {
      list: () => transport.binding.list(),
      open: async (options) => {
        const port = await transport.binding.open(options);
        ports.push(port);
        return port;
      },
    };
    const { source, lines } = watch({ path: transport.devicePath, binding });
    source.start();
    await source.stop();
    const port = await waitFor(() => ports[0], { timeoutMs: 5000, what: 'the binding to finish opening' });
    await waitFor(() => !port.isOpen, { timeoutMs: 5000, what: 'the late-opened port to be closed' });
    transport.write('T=1.0\n');
    expect(lines).toEqual([]);
  });

  it('reopens a port that is open but silent, and reports it stalled, not disconnected', async () => {
    const transport = openInProcessTransport(`/dev/ttyFURNACE-stall-${process.pid}`);
    teardown.push(() => transport.close());
    const { source, states, reasons } = watch({ path: transport.devicePath, binding: transport.binding, stallAfterMs: 150 });
    const stalled = nextState(source, 'stalled');
    source.start();
    await stalled;
    await waitFor(() => states.filter((state) => state === 'open').length === 2, { timeoutMs: 5000, what: 'the port reopened' });
    expect(states.slice(0, 5)).toEqual(['opening', 'open', 'stalled', 'opening', 'open']);
    expect(reasons[2]).toBe('no data for 150 ms');
  });

  it('does not stall while data keeps coming', async () => {
    const transport = openInProcessTransport(`/dev/ttyFURNACE-busy-${process.pid}`);
    teardown.push(() => transport.close());
    const { source, states, lines } = watch({ path: transport.devicePath, binding: transport.binding, stallAfterMs: 300 });
    const open = nextState(source, 'open');
    source.start();
    await open;
    // A sensor writing every 30 ms, ten times faster than the stall limit, for well past it.
    const sensor = realSetInterval(() => transport.write('T=800.0\r\n'), 30);
    try {
      await waitFor(() => lines.length >= 25, { timeoutMs: 10_000, what: '25 lines' });
    } finally {
      clearInterval(sensor);
    }
    expect(states).toEqual(['opening', 'open']);
  });

  it('reports a path the mock binding does not know as closed, with the reason', async () => {
    const transport = openInProcessTransport(`/dev/ttyFURNACE-known-${process.pid}`);
    teardown.push(() => transport.close());
    const { source, states, reasons } = watch({ path: '/dev/ttyFURNACE-unknown', binding: transport.binding });
    const closed = nextState(source, 'closed');
    source.start();
    await closed;
    expect(states.slice(0, 2)).toEqual(['opening', 'closed']);
    expect(reasons[1]).toMatch(/ttyFURNACE-unknown/);
  });
});

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type TcpTransport, openTcpTransport } from '../../hardware/transports/tcp-transport.js';
import { freePort } from '../../test/helpers/free-port.js';
import { waitFor } from '../../test/helpers/wait-for.js';
import { type SourceState, SerialSource } from '../../test/helpers/serial-source.js';

const log = pino({ level: 'silent' });

describe('a serial line over TCP (tcp://host:port, hardware spec §20)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function watch(path: string, stallAfterMs = 0) {
    const source = new SerialSource({ path, baudRate: 9600, reopenMinMs: 20, reopenMaxMs: 200, stallAfterMs, log });
    const states: Array<[SourceState, string | undefined]> = [];
    const lines: string[] = [];
    source.on('state', (state, reason) => states.push([state, reason]));
    source.on('line', (line) => lines.push(line));
    cleanups.push(() => source.stop());
    source.start();
    return { states, lines };
  }

  async function gateway(port: number): Promise<TcpTransport> {
    const transport = await openTcpTransport({ port });
    cleanups.push(() => transport.close());
    return transport;
  }

  it('reads lines, is reopened when the gateway goes away and comes back, and retries while it is refused', async () => {
    const port = await freePort();
    const { states, lines } = watch(`tcp://127.0.0.1:${port}`);
    await waitFor(() => states.filter(([state]) => state === 'closed').length >= 2, { timeoutMs: 5000, what: 'refused attempts' });
    expect(states[1]?.[1]).toMatch(/ECONNREFUSED/);

    let transport = await gateway(port);
    await waitFor(() => transport.connected, { timeoutMs: 5000, what: 'the agent to connect' });
    transport.write('T=812.5\r\nT=8');
    transport.write('13.0\r\n');
    await waitFor(() => lines.length === 2, { timeoutMs: 5000, what: 'two lines over TCP' });

    await transport.close(); // the gateway reboots
    await waitFor(() => states.at(-1)?.[0] === 'closed' || states.at(-1)?.[0] === 'opening', { timeoutMs: 5000, what: 'the loss noticed' });
    transport = await gateway(port);
    await waitFor(() => transport.connected, { timeoutMs: 5000, what: 'the agent to reconnect' });
    transport.write('T=814.0\r\n');
    await waitFor(() => lines.length === 3, { timeoutMs: 5000, what: 'a line after the reconnection' });
    expect(lines).toEqual(['T=812.5\r', 'T=813.0\r', 'T=814.0\r']);
    expect(states.some(([state, reason]) => state === 'closed' && /closed by the peer|connection lost/.test(reason ?? ''))).toBe(true);
  });

  it('reopens a connection that is open but silent', async () => {
    const port = await freePort();
    const transport = await gateway(port);
    const { states } = watch(`tcp://127.0.0.1:${port}`, 150);
    await waitFor(() => states.filter(([state]) => state === 'open').length >= 2, { timeoutMs: 5000, what: 'a stall and a reopen' });
    expect(states.map(([state]) => state).slice(0, 5)).toEqual(['opening', 'open', 'stalled', 'opening', 'open']);
    expect(transport.connected).toBe(true);
  });
});

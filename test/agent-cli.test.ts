// `furnace-agent` as an operator meets it: --print-config, a bad setting, a port by USB id on a
// machine that cannot list USB ports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIST_DIR } from './helpers/cli.js';
import { type RunningProcess, startProcess, stopAllProcesses } from './helpers/process.js';

function agentCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunningProcess> {
  return startProcess(process.execPath, [join(DIST_DIR, 'agent', 'cli.js'), ...args], { env: { ...process.env, ...env } });
}

describe('furnace-agent on the command line', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agent-cli-'));
  });
  afterEach(async () => {
    await stopAllProcesses();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the settings in force with every secret masked', async () => {
    const cli = await agentCli(
      ['--device', 'kiln-7', '--serial-path', '/dev/ttyUSB0', '--mqtt-url', 'mqtts://agent:in-url@broker:8883', '--print-config'],
      {
        FURNACE_AGENT_MQTT_USERNAME: 'kiln-7',
        FURNACE_AGENT_MQTT_PASSWORD: 'in-env',
      },
    );
    expect((await cli.waitForExit()).code).toBe(0);
    const printed = cli.lines.join('\n');
    expect(printed).not.toContain('in-url');
    expect(printed).not.toContain('in-env');
    const settings = JSON.parse(printed) as { mqtt: Record<string, unknown>; sensors: Array<{ id: string }>; health: { port: number } };
    expect(settings.mqtt).toMatchObject({ url: 'mqtts://agent:********@broker:8883', username: 'kiln-7', password: '********' });
    expect(settings.sensors.map((sensor) => sensor.id)).toEqual(['tc1']);
    expect(settings.health.port).toBe(9100);
  });

  it('takes a renamed setting under its old name, warning with the new one (mqtt.keepaliveS, FURNACE_AGENT_MQTT_KEEPALIVE_S)', async () => {
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'device: kiln-7\nserial:\n  path: /dev/ttyUSB0\nmqtt:\n  keepaliveS: 45\n');
    const fromFile = await agentCli(['--config', file, '--print-config']);
    expect((await fromFile.waitForExit()).code).toBe(0);
    expect(fromFile.lines).toContain(
      `furnace-agent: warning: mqtt.keepaliveS in ${file} is deprecated: rename it to mqtt.keepaliveSeconds (the old name still works for now)`,
    );
    expect(fromFile.lines.join('\n')).toMatch(/"keepaliveSeconds": 45/);
    const fromEnv = await agentCli(['--device', 'kiln-7', '--serial-path', '/dev/ttyUSB0', '--print-config'], {
      FURNACE_AGENT_MQTT_KEEPALIVE_S: '20',
    });
    expect((await fromEnv.waitForExit()).code).toBe(0);
    expect(fromEnv.lines.join('\n')).toMatch(
      /warning: environment variable FURNACE_AGENT_MQTT_KEEPALIVE_S is deprecated: rename it to FURNACE_AGENT_MQTT_KEEPALIVE_SECONDS/,
    );
    expect(fromEnv.lines.join('\n')).toMatch(/"keepaliveSeconds": 20/);
  });

  it('refuses bad settings with exit code 2, naming each and where it came from', async () => {
    const cli = await agentCli(['--device', 'kiln 7', '--serial-path', 'usb:12'], { FURNACE_AGENT_OUTBOX_WHEN_FULL: 'drop-random' });
    expect((await cli.waitForExit()).code).toBe(2);
    const output = cli.lines.join('\n');
    expect(output).toContain('device = "kiln 7"');
    expect(output).toContain('outbox.whenFull = "drop-random"');
    expect(output).toContain('[from environment FURNACE_AGENT_OUTBOX_WHEN_FULL]');
  });

  it('stops with AGENT_SERIAL_LIST_FAILED, naming the setting, where USB ports cannot be listed (no udevadm)', async () => {
    const emptyPath = join(dir, 'bin'); // no udevadm on this PATH, whatever the machine has
    const cli = await agentCli(
      ['--device', 'kiln-7', '--serial-path', 'usb:0403:6001', '--data-dir', join(dir, 'outbox'), '--mqtt-url', 'mqtt://127.0.0.1:1'],
      {
        PATH: emptyPath,
        FURNACE_AGENT_HEALTH_ENABLED: 'false',
      },
    );
    expect((await cli.waitForExit(15_000)).code).toBe(1);
    const output = cli.lines.join('\n');
    expect(output).toContain('furnace-agent: AGENT_SERIAL_LIST_FAILED: serial.path = "usb:0403:6001": cannot list the USB serial ports');
    expect(output).toContain('udevadm was not found');
  });
});

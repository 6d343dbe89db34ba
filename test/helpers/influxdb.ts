// A throw-away InfluxDB 1.6 on free ports, all data in a temp dir.
//
// Every listener influxd opens is pinned to a free loopback port or disabled: its defaults
// (see `influxd config`) include the RPC/backup bind-address on 8088, and a second test run
// or a system influxd on that port would make start-up fail.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts } from './free-port.js';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';

export interface InfluxDb {
  /** HTTP API port. */
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  pid: number;
  dir: string;
  /** The RPC port (backup/restore), pinned so that a restart on the same folder binds it again. */
  rpcPort: number;
  /** Stops influxd and removes its temp folder (kept when the caller gave `dir`). */
  stop: () => Promise<void>;
}

export interface InfluxDbOptions {
  /** Use this folder (and keep it at stop): with the same ports, a restart finds its data again. */
  dir?: string;
  port?: number;
  rpcPort?: number;
  /** [http] auth-enabled: the first user must be made an admin (CREATE USER ... WITH ALL PRIVILEGES), which 1.x allows without credentials. */
  auth?: boolean;
}

function config(dir: string, httpPort: number, rpcPort: number, auth: boolean): string {
  return `
# Upstream spells it reporting-disabled, Debian's build reporting-enabled; unknown keys are ignored.
reporting-disabled = true
reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${join(dir, 'meta')}"

[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false

[monitor]
  # Otherwise it writes its own _internal database every 10 s.
  store-enabled = false

[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  auth-enabled = ${auth}

[ifql]
  enabled = false

[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
`;
}

/** True when GET /ping answers 204, InfluxDB's "ready" signal. */
async function pings(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return response.status === 204;
  } catch {
    return false;
  }
}

export async function startInfluxDb(options: InfluxDbOptions = {}): Promise<InfluxDb> {
  const [freeHttp, freeRpc] = await freePorts(2);
  const port = options.port ?? freeHttp;
  const rpcPort = options.rpcPort ?? freeRpc;
  if (port === undefined || rpcPort === undefined) throw new Error('freePorts(2) returned too few ports');
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startTempDaemon({
    prefix: 'influxdb-',
    ...(options.dir === undefined ? {} : { dir: options.dir }),
    launch: async (dir) => {
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'influxdb.conf');
      await writeFile(file, config(dir, port, rpcPort, options.auth ?? false));
      // HOME too: influxd falls back to ~/.influxdb for anything not configured.
      return startProcess('influxd', ['-config', file], { cwd: dir, env: { ...process.env, HOME: dir } });
    },
    ready: () => pings(url),
    what: `influxd to answer GET ${url}/ping with 204`,
  });
  return { port, url, pid: daemon.pid, dir: daemon.dir, rpcPort, stop: daemon.stop };
}

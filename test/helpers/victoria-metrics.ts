// A throw-away VictoriaMetrics (Debian's victoria-metrics) on a free port, data in a temp dir.
// It takes InfluxDB line protocol on /write and /api/v2/write, which is what the InfluxDB store's
// v2 write path is tested against; /api/v1/export gives back every sample as it was stored.
import { freePort } from './free-port.js';
import { startProcess } from './process.js';
import { startTempDaemon } from './temp-daemon.js';

export interface VictoriaMetrics {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  dir: string;
  /** Stops it and removes its temp folder. */
  stop: () => Promise<void>;
}

/** One series of /api/v1/export: its labels, and its samples. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** `port`: this one instead of a free one (a server that comes up where a client already points). */
export async function startVictoriaMetrics(options: { port?: number } = {}): Promise<VictoriaMetrics> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const daemon = await startTempDaemon({
    prefix: 'victoria-metrics-',
    launch: (dir) =>
      startProcess(
        'victoria-metrics',
        // 100 years: the tests write readings with old and future timestamps, which the default
        // one month would drop. Loopback only.
        [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dir}/data`, '-retentionPeriod=100y', '-loggerLevel=ERROR'],
        { cwd: dir },
      ),
    ready: async () => {
      try {
        return (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).ok;
      } catch {
        return false;
      }
    },
    what: `victoria-metrics to answer GET ${url}/health`,
  });
  return { port, url, dir: daemon.dir, stop: daemon.stop };
}

/** Every series whose name matches `nameRegex`, all samples, after flushing what is buffered in memory. */
export async function exportSeries(vm: VictoriaMetrics, nameRegex: string): Promise<ExportedSeries[]> {
  await fetch(`${vm.url}/internal/force_flush`);
  const body = new URLSearchParams({
    'match[]': `{__name__=~"${nameRegex}"}`,
    start: '0',
    end: String(Math.floor(Date.now() / 1000) + 100 * 365 * 86_400),
  });
  const response = await fetch(`${vm.url}/api/v1/export`, { method: 'POST', body });
  if (!response.ok) throw new Error(`export: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as ExportedSeries);
}

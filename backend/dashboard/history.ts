import type { Api } from './api.js';
import type { BandPoint, ReadingsPage } from './api-types.js';

// History for a chart: about one point per pixel, downsampled on the server (points=N) with
// each bucket's min and max (agg=band), so a 30-day view keeps its peaks and stays small.

export interface History {
  points: BandPoint[];
  every: number;
  /** The query's end: live readings from here on are added to what it answered. */
  to: number;
}

/** Pages are followed, but a chart asks for few enough points that one page holds them. */
const MAX_PAGES = 20;

export async function loadHistory(
  api: Api,
  device: string,
  sensor: string,
  from: number,
  to: number,
  points: number,
  signal?: AbortSignal,
): Promise<History> {
  const base = `/api/v1/devices/${encodeURIComponent(device)}/readings?sensor=${encodeURIComponent(sensor)}&from=${Math.floor(from)}&to=${Math.ceil(to)}&points=${points}&agg=band`;
  const all: BandPoint[] = [];
  let every = 1000;
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const answer = await api.get<ReadingsPage>(cursor === undefined ? base : `${base}&cursor=${cursor}`, signal);
    all.push(...(answer.points ?? []));
    every = answer.every ?? every;
    if (!answer.truncated || answer.nextCursor === undefined) break;
    cursor = answer.nextCursor;
  }
  return { points: all, every, to: Math.ceil(to) };
}

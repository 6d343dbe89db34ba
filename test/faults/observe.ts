// What the fault suite looks at, all from outside the processes: the agent's outbox file and
// /healthz, the backend's SQLite file and /readyz. Each read opens its own short read-only
// connection (WAL lets it read beside the writer) and closes it at once, so the suite never
// holds a snapshot that would keep a WAL from being reset.
import Database from 'better-sqlite3';

/** The highest seq the agent ever took (sqlite_sequence keeps it after its row is deleted); 0 before the first. */
export function outboxHighestSeq(outboxFile: string): number {
  return readOnly(outboxFile, 0, (db) => {
    const row = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").get() as { seq: number } | undefined;
    return row?.seq ?? 0;
  });
}

/** How many rows the backend holds for each seq of `device` (more than one: a doubled reading). */
export function storedSeqs(readingsFile: string, device: string): Map<number, number> {
  return readOnly(readingsFile, new Map<number, number>(), (db) => {
    const rows = db.prepare('SELECT seq, count(*) AS n FROM readings WHERE device = ? GROUP BY seq').all(device) as Array<{
      seq: number;
      n: number;
    }>;
    return new Map(rows.map((row) => [row.seq, row.n]));
  });
}

/**
 * Runs `read` on a read-only connection; `absent` while the file, or the table, does not exist
 * yet (the part has not created it). Other errors propagate.
 */
function readOnly<T>(file: string, absent: T, read: (db: Database.Database) => T): T {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_CANTOPEN') return absent;
    throw error;
  }
  try {
    return read(db);
  } catch (error) {
    if (/no such table/.test((error as Error).message)) return absent;
    throw error;
  } finally {
    db.close();
  }
}

/** The HTTP status of GET `url`, or undefined when nothing answers within `timeoutMs`. */
export async function httpStatus(url: string, timeoutMs = 2000): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined;
  }
}

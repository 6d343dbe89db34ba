import type Database from 'better-sqlite3';

const COLUMNS = 'device_id, ts, sensor_id, boot_id, seq, value, unit, quality, clock, replay, received_at';
const WIDTH = 11;
/** Rows per INSERT statement, largest first; a remainder goes in the smaller ones. */
const SIZES = [200, 25, 5, 1] as const;

type Value = number | string | null;

/**
 * Rows for reading_rows, inserted in multi-row INSERT statements: one statement step per 200
 * readings instead of one per reading, with positional parameters in a reused array (no object per
 * reading). Runs inside the caller's transaction; `flush` before it commits.
 */
export class ReadingRowInserter {
  private readonly statements: Array<{ rows: number; statement: Database.Statement<[Value[]]> }>;
  private readonly buffer: Value[];
  private filled = 0;

  constructor(db: Database.Database) {
    const row = `(${new Array<string>(WIDTH).fill('?').join(', ')})`;
    this.statements = SIZES.map((rows) => ({
      rows,
      // OR IGNORE: a row seeded through the readings view without seq ranges is there already; it stays as it is.
      statement: db.prepare<[Value[]]>(
        `INSERT OR IGNORE INTO reading_rows (${COLUMNS}) VALUES ${new Array<string>(rows).fill(row).join(', ')}`,
      ),
    }));
    this.buffer = new Array<Value>(SIZES[0] * WIDTH);
  }

  add(
    deviceId: number,
    ts: number,
    sensorId: number,
    bootId: number,
    seq: number,
    value: number | null,
    unit: string,
    quality: number,
    clock: number,
    replay: number,
    receivedAt: number,
  ): void {
    const b = this.buffer;
    let i = this.filled;
    b[i++] = deviceId;
    b[i++] = ts;
    b[i++] = sensorId;
    b[i++] = bootId;
    b[i++] = seq;
    b[i++] = value;
    b[i++] = unit;
    b[i++] = quality;
    b[i++] = clock;
    b[i++] = replay;
    b[i++] = receivedAt;
    this.filled = i;
    if (i === b.length) this.flush();
  }

  /** Inserts the rows added since the last flush. */
  flush(): void {
    let offset = 0;
    let left = this.filled / WIDTH;
    try {
      for (const { rows, statement } of this.statements) {
        for (; left >= rows; left -= rows, offset += rows * WIDTH) {
          statement.run(
            offset === 0 && rows * WIDTH === this.buffer.length ? this.buffer : this.buffer.slice(offset, offset + rows * WIDTH),
          );
        }
      }
    } finally {
      this.filled = 0;
    }
  }
}

import type Database from 'better-sqlite3';

/** Names cached per dictionary; past this many the cache starts again (boot ids accumulate over the years). */
const MAX_CACHED = 10_000;

/**
 * One dictionary table (device_names, sensor_names, boot_names: sqlite-schema-v3.ts): the integer
 * id of a name, made on first use. Ids are cached; those made in a transaction that rolls back
 * are forgotten with it (`rolledBack`), so the cache never names a row that is not there.
 */
export class NameIds {
  private readonly ids = new Map<string, number>();
  private made: string[] = [];
  private readonly insert: Database.Statement<[string]>;
  private readonly select: Database.Statement<[string], number>;

  constructor(db: Database.Database, table: 'device_names' | 'sensor_names' | 'boot_names') {
    this.insert = db.prepare(`INSERT OR IGNORE INTO ${table} (name) VALUES (?)`);
    this.select = db.prepare<[string], number>(`SELECT id FROM ${table} WHERE name = ?`).pluck();
  }

  /** The id of `name`, made if new. Runs inside the caller's transaction. */
  id(name: string): number {
    const cached = this.ids.get(name);
    if (cached !== undefined) return cached;
    this.insert.run(name);
    const id = this.select.get(name);
    if (id === undefined) throw new Error(`no id for ${JSON.stringify(name)} right after making it`);
    if (this.ids.size >= MAX_CACHED) this.ids.clear();
    this.ids.set(name, id);
    this.made.push(name);
    return id;
  }

  committed(): void {
    this.made = [];
  }

  rolledBack(): void {
    for (const name of this.made) this.ids.delete(name);
    this.made = [];
  }
}

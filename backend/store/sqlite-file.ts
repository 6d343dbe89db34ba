import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

// Every SQLite file of the backend is opened here, with one policy: the readings store and its
// writer and query threads, the InfluxDB store's index, the device registry, the alert database.
//
// - Busy timeout 0. better-sqlite3 waits for a lock synchronously (5 s by default), holding the
//   event loop, and with it ingest, the API and readiness, all that time. A file locked by another
//   process fails fast instead; ingest retries the write later (ingest/retry.ts) without holding
//   the thread. Within the backend one connection writes each file, so nothing inside waits.
// - WAL: readers (the API, the query threads) never wait for the writer, nor it for them.
// - Durability chosen per file: `full` (synchronous = FULL) where a commit is confirmed to the
//   agents, which then delete those readings, so a power cut must not undo it; `normal` elsewhere
//   (a crash loses nothing committed; a power cut may lose the last commits, never the file).
// - The schema by PRAGMA user_version: migrations run in order, each in its own transaction.
// - Statements prepared once per connection: fixed ones when the owner is built, those whose text
//   depends on a query's shape through `cachedStatement`. Preparing costs more than running them.

export type Durability = 'full' | 'normal';

/**
 * One schema step: SQL, or a function, run in one transaction that also sets user_version; or,
 * for a step too large for one transaction (moving every reading), a function that commits in as
 * many as it needs and sets user_version itself in the last.
 */
export type Migration = string | ((db: Database.Database) => void) | { ownTransactions: (db: Database.Database) => void };

export interface SqliteFileOptions {
  durability: Durability;
  /** Applied in order from the file's user_version. */
  migrations?: readonly Migration[];
  /** Stop after this version (tests make files of an older version with it). */
  toVersion?: number;
  /** A worker thread's connection to a file its owner created and migrated. */
  fileMustExist?: boolean;
}

/** Opens (creating `dataDir` if need be) the file `name` in it, by the policy above. */
export function openSqliteIn(dataDir: string, name: string, options: SqliteFileOptions): Database.Database {
  mkdirSync(dataDir, { recursive: true });
  return openSqliteFile(join(dataDir, name), options);
}

/** Opens `file` by the policy above; closes it again if a pragma or a migration fails. */
export function openSqliteFile(file: string, options: SqliteFileOptions): Database.Database {
  const db = new Database(file, { timeout: 0, fileMustExist: options.fileMustExist ?? false });
  try {
    // journal_mode is stored in the file; synchronous is per connection, so every connection sets it.
    if (!options.fileMustExist) db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    if (options.migrations) migrate(db, options.migrations, options.toVersion);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** A read-only connection (a query thread): a reader in WAL mode never waits, so no timeout either. */
export function openSqliteReader(file: string): Database.Database {
  return new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
}

/** Brings the schema from the file's user_version to `toVersion` (default: all of `migrations`), step by step. */
export function migrate(db: Database.Database, migrations: readonly Migration[], toVersion = migrations.length): void {
  let version = db.pragma('user_version', { simple: true }) as number;
  const target = Math.min(toVersion, migrations.length);
  for (; version < target; version++) {
    const step = migrations[version] ?? '';
    if (typeof step === 'object') {
      step.ownTransactions(db);
      continue;
    }
    const next = version + 1;
    db.transaction(() => {
      if (typeof step === 'string') db.exec(step);
      else step(db);
      db.pragma(`user_version = ${next}`);
    })();
  }
}

const statementCache = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** The statement for `sql`, prepared the first time on this connection; `raw`: it answers rows as arrays. */
export function cachedStatement(db: Database.Database, sql: string, raw = false): Database.Statement {
  let statements = statementCache.get(db);
  if (!statements) statementCache.set(db, (statements = new Map<string, Database.Statement>()));
  const key = raw ? `raw:${sql}` : sql;
  let statement = statements.get(key);
  if (!statement) statements.set(key, (statement = raw ? db.prepare(sql).raw(true) : db.prepare(sql)));
  return statement;
}
